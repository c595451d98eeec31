"""Authentication for the workbench and the API it extends: a user's bearer token or the session cookie, and the
sign-in routes (`POST /v1/auth/login`, `GET /v1/auth/me`, `POST /v1/auth/logout`)."""

from __future__ import annotations

import anyio
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from pipelines.analysis.api import Guard, Principal
from pipelines.jsonbody import json_object
from pipelines.workbench import sessions, users
from pipelines.workbench.settings import WorkbenchSettings
from pipelines.workbench.store import MetaStore, MetaUnavailable

COOKIE = "tf_session"
WRONG_LOGIN = "wrong username or password"
LOGIN_BODY_BYTES = 8192


def unauthenticated(message: str, reason: str = "unauthenticated") -> JSONResponse:
    """The one 401 shape: the app goes back to sign-in on it; `reason` tells an expired session from none."""
    return JSONResponse({"error": message, "reason": reason}, status_code=401)


def unavailable(exc: MetaUnavailable) -> JSONResponse:
    return JSONResponse({"error": str(exc)}, status_code=503)


class Authenticator:
    def __init__(self, store: MetaStore, settings: WorkbenchSettings):
        self.store, self.settings = store, settings

    async def __call__(self, request: Request) -> Principal | Response:
        """A user's bearer token (no CSRF: a browser never adds it by itself), else the session cookie."""
        try:
            return await anyio.to_thread.run_sync(self._principal, request.headers.get("authorization", ""), request.cookies.get(COOKIE))
        except MetaUnavailable as exc:
            return unavailable(exc)

    def _principal(self, authorization: str, cookie: str | None) -> Principal | Response:
        scheme, _, token = authorization.partition(" ")
        if authorization:
            if scheme.lower() != "bearer" or not token:
                return unauthenticated("Authorization must be `Bearer <token>`")
            with self.store.connection() as connection:
                user = users.token_user(connection, token)
            if user is None:
                return unauthenticated("wrong or revoked API token")
            return Principal(role=user.role, username=user.username)
        if not cookie:
            return unauthenticated("sign in first (session cookie or Authorization: Bearer <token>)")
        with self.store.connection() as connection:
            session = sessions.resume(connection, cookie, self.settings.session_idle_s, self.settings.session_absolute_s)
        if session == "expired":
            return unauthenticated("the session expired: sign in again", reason="expired")
        if isinstance(session, str):
            return unauthenticated("the session ended: sign in again")
        return Principal(role=session.user.role, username=session.user.username, csrf_token=session.csrf_token)


def auth_routes(store: MetaStore, settings: WorkbenchSettings, guarded: Guard) -> list[Route]:
    def signed_in(user: users.User, csrf: str) -> dict:
        return {"user": {"username": user.username, "role": user.role}, "csrf_token": csrf}

    def attempt(username: str, password: str) -> tuple[int, dict, str | None]:
        """(status, body, session id) of one sign-in."""
        with store.connection() as connection:
            valid_name = bool(users.NAME.fullmatch(username))
            if valid_name:
                wait = sessions.retry_after(connection, username, settings.login_max_failures, settings.login_window_s)
                if wait:
                    return 429, {"error": f"too many failed sign-ins for {username!r}: try again in {wait} s", "retry_after": wait}, None
            user = users.verify_password(connection, username, password)
            if user is None:
                if valid_name:
                    sessions.record_failure(connection, username, settings.login_window_s)
                return 401, {"error": WRONG_LOGIN, "reason": "unauthenticated"}, None
            sessions.clear_failures(connection, username)
            session_id, csrf = sessions.start(connection, user, settings.session_idle_s, settings.session_absolute_s)
        return 200, signed_in(user, csrf), session_id

    async def login(request: Request) -> Response:
        body = await json_object(request, LOGIN_BODY_BYTES, "sign-in bodies are small", "body must be {\"username\", \"password\"}")
        if isinstance(body, JSONResponse):
            return body
        errors = [
            {"field": field, "message": "required: a string"}
            for field in ("username", "password")
            if not isinstance(body.get(field), str) or not body.get(field)
        ]
        if errors:
            return JSONResponse({"error": "invalid request", "errors": errors}, status_code=422)
        try:
            status, answer, session_id = await anyio.to_thread.run_sync(attempt, body["username"], body["password"])
        except MetaUnavailable as exc:
            return unavailable(exc)
        response = JSONResponse(answer, status_code=status)
        if status == 429:
            response.headers["Retry-After"] = str(answer["retry_after"])
        if session_id is not None:
            response.set_cookie(
                COOKIE, session_id, max_age=int(settings.session_absolute_s), path="/", httponly=True,
                samesite="strict", secure=settings.cookie_secure,
            )  # fmt: skip
        return response

    async def me(request: Request) -> Response:
        who: Principal = request.state.principal
        return JSONResponse({"user": {"username": who.username, "role": who.role}, "csrf_token": who.csrf_token})

    async def logout(request: Request) -> Response:
        cookie = request.cookies.get(COOKIE)

        def end() -> None:
            with store.connection() as connection:
                sessions.end(connection, cookie)

        if cookie:
            try:
                await anyio.to_thread.run_sync(end)
            except MetaUnavailable as exc:
                return unavailable(exc)
        response = Response(status_code=204)
        response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict", secure=settings.cookie_secure)
        return response

    return [
        Route("/v1/auth/login", login, methods=["POST"]),
        Route("/v1/auth/me", guarded(me), methods=["GET"]),
        Route("/v1/auth/logout", guarded(logout), methods=["POST"]),
    ]
