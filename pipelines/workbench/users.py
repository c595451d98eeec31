"""Workbench users and their API tokens: names, roles, argon2id password hashes (argon2-cffi), disabling.

Every function takes a connection to the metadata store (store.py) and runs parameterised SQL only.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

ROLES = ("analyst", "admin")
NAME = re.compile(r"[A-Za-z0-9_.@-]{1,64}")
# argon2-cffi's defaults are RFC 9106's low-memory profile (argon2id, 64 MiB, 3 passes): kept, so a library update
# that raises them applies to new hashes, and check_needs_rehash upgrades old ones at sign-in.
HASHER = PasswordHasher()
MAX_PASSWORD_CHARS = 1024  # a sign-in body with a megabyte "password" is refused before argon2 sees it
MIN_PASSWORD_CHARS = 8
# Verified against when the user does not exist, so a wrong name costs the same time as a wrong password.
_DUMMY_HASH = HASHER.hash(secrets.token_urlsafe(16))


class UserError(ValueError):
    """A request about users that cannot be done; the message says why (shown by the CLI and the API)."""


@dataclass(frozen=True)
class User:
    username: str
    role: str
    disabled: bool = False
    created_at: str = ""


def check_name(username: str) -> str:
    if not isinstance(username, str) or not NAME.fullmatch(username):
        raise UserError(f"user name {username!r}: 1-64 characters from A-Z a-z 0-9 _ . @ -")
    return username


def check_role(role: str) -> str:
    if role not in ROLES:
        raise UserError(f"role {role!r}: choose one of {', '.join(ROLES)}")
    return role


def check_password(password: str) -> str:
    if not MIN_PASSWORD_CHARS <= len(password) <= MAX_PASSWORD_CHARS:
        raise UserError(f"a password has {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters")
    return password


def new_password() -> str:
    return secrets.token_urlsafe(15)  # 120 random bits, 20 characters


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def add_user(connection, username: str, role: str, password: str) -> User:
    check_name(username)
    check_role(role)
    check_password(password)
    row = connection.execute(
        "INSERT INTO users (username, role, password_hash) VALUES (%s, %s, %s) ON CONFLICT (username) DO NOTHING "
        "RETURNING created_at",
        (username, role, HASHER.hash(password)),
    ).fetchone()
    if row is None:
        raise UserError(f"user {username!r} exists already")
    return User(username, role, False, row[0].isoformat())


def list_users(connection) -> list[User]:
    rows = connection.execute("SELECT username, role, disabled, created_at FROM users ORDER BY username").fetchall()
    return [User(name, role, disabled, created.isoformat()) for name, role, disabled, created in rows]


def any_user(connection) -> bool:
    return connection.execute("SELECT EXISTS (SELECT 1 FROM users)").fetchone()[0]


def disable_user(connection, username: str) -> None:
    """Disabled: cannot sign in; their sessions end and their tokens stop working at once."""
    check_name(username)
    with connection.transaction():
        if connection.execute("UPDATE users SET disabled = true WHERE username = %s", (username,)).rowcount == 0:
            raise UserError(f"no user {username!r}; `trackflow users list` shows them")
        connection.execute("DELETE FROM sessions WHERE username = %s", (username,))


def set_password(connection, username: str, password: str) -> None:
    check_name(username)
    check_password(password)
    with connection.transaction():
        changed = connection.execute(
            "UPDATE users SET password_hash = %s WHERE username = %s", (HASHER.hash(password), username)
        ).rowcount
        if not changed:
            raise UserError(f"no user {username!r}; `trackflow users list` shows them")
        connection.execute("DELETE FROM sessions WHERE username = %s", (username,))  # a reset signs everyone out


def new_token(connection, username: str) -> str:
    """A new API token for the user (printed once: only its hash is kept)."""
    check_name(username)
    user = connection.execute("SELECT disabled FROM users WHERE username = %s", (username,)).fetchone()
    if user is None:
        raise UserError(f"no user {username!r}; `trackflow users list` shows them")
    if user[0]:
        raise UserError(f"user {username!r} is disabled")
    token = "tfu_" + secrets.token_urlsafe(32)
    connection.execute("INSERT INTO api_tokens (token_hash, username) VALUES (%s, %s)", (token_hash(token), username))
    return token


def verify_password(connection, username: str, password: str) -> User | None:
    """The user if the password is theirs and they are not disabled, else None (which of the two is not said)."""
    row = None
    if NAME.fullmatch(username) and len(password) <= MAX_PASSWORD_CHARS:
        row = connection.execute(
            "SELECT role, disabled, password_hash FROM users WHERE username = %s", (username,)
        ).fetchone()
    try:
        HASHER.verify(row[2] if row else _DUMMY_HASH, password[:MAX_PASSWORD_CHARS])
    except (VerificationError, InvalidHashError):
        return None
    if row is None or row[1]:
        return None
    if HASHER.check_needs_rehash(row[2]):
        connection.execute("UPDATE users SET password_hash = %s WHERE username = %s", (HASHER.hash(password), username))
    return User(username, row[0])


def token_user(connection, token: str) -> User | None:
    row = connection.execute(
        "SELECT u.username, u.role FROM api_tokens t JOIN users u USING (username) "
        "WHERE t.token_hash = %s AND NOT u.disabled",
        (token_hash(token),),
    ).fetchone()
    return User(row[0], row[1]) if row else None
