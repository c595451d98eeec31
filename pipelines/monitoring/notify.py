"""Notifications: one pure formatter per receiver format (a Notice in, the request to send out), and a sender that
posts with retries and back-off and counts what it gave up on.

Formats follow the vendors' documented bot payloads:
- generic: our own JSON document (below), for any webhook consumer;
- WeCom (企业微信 group bot): `{"msgtype": "markdown", "markdown": {"content": ...}}`, content at most 4096 bytes;
  answers `{"errcode": 0, "errmsg": "ok"}`;
- DingTalk (钉钉 custom robot): `{"msgtype": "markdown", "markdown": {"title", "text"}}`; with a signing secret
  the URL gains `timestamp` (ms) and `sign` = base64(HMAC-SHA256(key=secret, "timestamp\\nsecret")); answers errcode;
- Feishu (飞书 custom bot): `{"msg_type": "post", "content": {"post": {"zh_cn": {"title", "content": [[tags]]}}}}`;
  with a secret the body gains `timestamp` (s) and `sign` = base64(HMAC-SHA256(key="timestamp\\nsecret", b""));
  answers `{"code": 0, ...}`;
- Slack (incoming webhook): `{"text": fallback, "blocks": [...]}` with mrkdwn sections; answers `ok`.
An answer with HTTP 200 but a vendor error code is a failure (the bots answer 200 to a bad token or payload).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import logging
import time
import urllib.parse
from dataclasses import dataclass
from typing import Callable

import httpx

from pipelines.monitoring.rules import Receiver

log = logging.getLogger(__name__)
WECOM_MAX_BYTES = 4096
RETRY_DELAYS_S = (1.0, 2.0, 4.0)  # back-off between the attempts: four tries in about 7 s


@dataclass(frozen=True)
class Notice:
    rule: str
    priority: str
    state: str  # firing | resolved | test
    summary: str
    labels: dict[str, str]
    value: float
    threshold: str  # "> 50000" as the rule says it
    at: float  # epoch seconds of the change
    since: float  # when it started firing
    fingerprint: str
    board_url: str
    runbook_url: str

    @property
    def title(self) -> str:
        mark = {"firing": "FIRING", "resolved": "RESOLVED", "test": "TEST"}.get(self.state, self.state.upper())
        return f"[{self.priority} {mark}] {self.rule}"

    def when(self, epoch: float) -> str:
        return dt.datetime.fromtimestamp(epoch, dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")

    def label_text(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in sorted(self.labels.items())) or "-"


@dataclass(frozen=True)
class Request:
    url: str
    body: dict


def generic(notice: Notice, url: str, secret: str = "", now: float | None = None) -> Request:
    return Request(
        url,
        {
            "version": 1,
            "status": notice.state,
            "rule": notice.rule,
            "priority": notice.priority,
            "summary": notice.summary,
            "labels": notice.labels,
            "value": notice.value,
            "threshold": notice.threshold,
            "at": notice.when(notice.at),
            "since": notice.when(notice.since),
            "fingerprint": notice.fingerprint,
            "board_url": notice.board_url,
            "runbook_url": notice.runbook_url,
        },
    )


def _markdown_lines(notice: Notice) -> list[str]:
    return [
        f"**{notice.title}**",
        notice.summary,
        f"> value: {notice.value:g} (rule: {notice.threshold})",
        f"> labels: {notice.label_text()}",
        f"> since: {notice.when(notice.since)}",
        f"[board]({notice.board_url}) · [runbook]({notice.runbook_url})",
    ]


def wecom(notice: Notice, url: str, secret: str = "", now: float | None = None) -> Request:
    content = "\n".join(_markdown_lines(notice))
    encoded = content.encode()
    if len(encoded) > WECOM_MAX_BYTES:  # cut on a character boundary, keep the links (they come last)
        links = _markdown_lines(notice)[-1]
        room = WECOM_MAX_BYTES - len(links.encode()) - 2
        content = encoded[:room].decode(errors="ignore") + "\n" + links
    return Request(url, {"msgtype": "markdown", "markdown": {"content": content}})


def dingtalk(notice: Notice, url: str, secret: str = "", now: float | None = None) -> Request:
    if secret:
        timestamp = str(int((now if now is not None else time.time()) * 1000))
        digest = hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256).digest()
        sign = urllib.parse.quote_plus(base64.b64encode(digest))
        url = f"{url}{'&' if '?' in url else '?'}timestamp={timestamp}&sign={sign}"
    # DingTalk's markdown wants blank lines between paragraphs.
    return Request(url, {"msgtype": "markdown", "markdown": {"title": notice.title, "text": "\n\n".join(_markdown_lines(notice))}})


def feishu(notice: Notice, url: str, secret: str = "", now: float | None = None) -> Request:
    body: dict = {
        "msg_type": "post",
        "content": {
            "post": {
                "zh_cn": {
                    "title": notice.title,
                    "content": [
                        [{"tag": "text", "text": notice.summary}],
                        [{"tag": "text", "text": f"value: {notice.value:g} (rule: {notice.threshold}); labels: {notice.label_text()}"}],
                        [{"tag": "text", "text": f"since: {notice.when(notice.since)}"}],
                        [{"tag": "a", "text": "board", "href": notice.board_url}, {"tag": "text", "text": " · "}, {"tag": "a", "text": "runbook", "href": notice.runbook_url}],
                    ],
                }
            }
        },
    }
    if secret:
        timestamp = str(int(now if now is not None else time.time()))
        digest = hmac.new(f"{timestamp}\n{secret}".encode(), b"", hashlib.sha256).digest()
        body = {"timestamp": timestamp, "sign": base64.b64encode(digest).decode(), **body}
    return Request(url, body)


def slack(notice: Notice, url: str, secret: str = "", now: float | None = None) -> Request:
    text = (
        f"*{notice.title}*\n{notice.summary}\nvalue: {notice.value:g} (rule: {notice.threshold}); labels: {notice.label_text()}\n"
        f"since: {notice.when(notice.since)}"
    )
    return Request(
        url,
        {
            "text": f"{notice.title}: {notice.summary}",  # the fallback shown in notifications
            "blocks": [
                {"type": "section", "text": {"type": "mrkdwn", "text": text}},
                {"type": "context", "elements": [{"type": "mrkdwn", "text": f"<{notice.board_url}|board> · <{notice.runbook_url}|runbook>"}]},
            ],
        },
    )


FORMATTERS: dict[str, Callable[..., Request]] = {"generic": generic, "wecom": wecom, "dingtalk": dingtalk, "feishu": feishu, "slack": slack}


def vendor_error(format: str, response: httpx.Response) -> str | None:
    """The vendor's refusal in an HTTP 200 answer, or None when it took the message."""
    if format in ("wecom", "dingtalk", "feishu"):
        try:
            answer = response.json()
        except ValueError:
            return f"answer is not JSON: {response.text[:200]!r}"
        code = answer.get("errcode", answer.get("code", answer.get("StatusCode", 0)))
        return None if code == 0 else f"code {code}: {answer.get('errmsg') or answer.get('msg') or answer}"
    if format == "slack" and response.text.strip() not in ("ok", ""):
        return f"answer {response.text[:200]!r}"
    return None


class Sender:
    """Posts notices to receivers: up to len(RETRY_DELAYS_S)+1 attempts each, with back-off; `on_outcome(receiver,
    "ok" | "failed")` counts them. Blocking: the alerts component calls it from its notification thread."""

    def __init__(self, on_outcome: Callable[[str, str], None] = lambda receiver, outcome: None, delays: tuple[float, ...] = RETRY_DELAYS_S, timeout_s: float = 5.0):
        self.on_outcome, self.delays = on_outcome, delays
        self.client = httpx.Client(timeout=timeout_s)

    def send(self, receiver: Receiver, notice: Notice) -> str | None:
        """None when delivered, else why it was given up."""
        url = receiver.resolved_url()
        if not url:
            self.on_outcome(receiver.name, "failed")
            return f"receiver {receiver.name}: ${receiver.url_env} is not set"
        problem = None
        for attempt, delay in enumerate((*self.delays, None)):
            request = FORMATTERS[receiver.format](notice, url, receiver.secret())  # re-signed each attempt
            try:
                response = self.client.post(request.url, content=json.dumps(request.body), headers={"Content-Type": "application/json"})
                problem = f"HTTP {response.status_code}" if response.status_code >= 300 else vendor_error(receiver.format, response)
            except httpx.HTTPError as exc:
                problem = f"{exc.__class__.__name__}: {exc}"
            if problem is None:
                self.on_outcome(receiver.name, "ok")
                return None
            log.warning("notification to %s (attempt %d) failed: %s", receiver.name, attempt + 1, problem)
            if delay is not None:
                time.sleep(delay)
        self.on_outcome(receiver.name, "failed")
        return f"receiver {receiver.name}: {problem}"

    def close(self) -> None:
        self.client.close()
