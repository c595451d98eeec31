"""Each receiver format produces its vendor's documented payload, signed as the vendor documents; the sender retries
with back-off, treats a vendor error code in a 200 answer as a failure, and counts what it gave up on. Against a
real local HTTP server."""

from __future__ import annotations

import base64
import hashlib
import hmac
import urllib.parse

import pytest

from pipelines.monitoring.notify import FORMATTERS, WECOM_MAX_BYTES, Notice, Sender
from pipelines.monitoring.rules import Receiver
from tests.monitoring.receiver import WebhookReceiver

NOTICE = Notice(
    rule="consumer_lag_high", priority="P1", state="firing", summary="A consumer group is behind.",
    labels={"group": "trackflow-dwd.x"}, value=61234, threshold="> 50000", at=1796600000.0, since=1796599970.0,
    fingerprint="abc123", board_url="http://board/#/board", runbook_url="http://docs/operations.md#alert-consumer_lag_high",
)  # fmt: skip

# The vendors' documented shapes (types of every field we send), written from their bot documentation:
# WeCom group bot "markdown", DingTalk custom robot "markdown", Feishu custom bot "post", Slack incoming webhook blocks.
SHAPES = {
    "wecom": {"msgtype": "markdown", "markdown": {"content": str}},
    "dingtalk": {"msgtype": "markdown", "markdown": {"title": str, "text": str}},
    "feishu": {"msg_type": "post", "content": {"post": {"zh_cn": {"title": str, "content": [[{"tag": str}]]}}}},
    "slack": {"text": str, "blocks": [{"type": str}]},
    "generic": {"version": 1, "status": str, "rule": str, "priority": str, "labels": dict, "board_url": str, "runbook_url": str},
}
FEISHU_TAGS = {"text": {"text"}, "a": {"text", "href"}, "at": {"user_id"}, "img": {"image_key"}}


def conforms(value, shape) -> bool:
    """value has every key of shape with the type (or the literal) it names; lists: every item conforms to the first."""
    if isinstance(shape, type):
        return isinstance(value, shape)
    if isinstance(shape, dict):
        return isinstance(value, dict) and all(k in value and conforms(value[k], s) for k, s in shape.items())
    if isinstance(shape, list):
        return isinstance(value, list) and len(value) > 0 and all(conforms(item, shape[0]) for item in value)
    return value == shape


@pytest.mark.parametrize("format", sorted(FORMATTERS))
def test_each_format_has_its_vendors_shape_and_the_links(format):
    request = FORMATTERS[format](NOTICE, "http://hook")
    assert conforms(request.body, SHAPES[format]), request.body
    text = str(request.body)
    assert NOTICE.board_url in text and NOTICE.runbook_url in text and "P1" in text and "consumer_lag_high" in text


def test_feishu_tags_carry_their_documented_fields():
    rows = FORMATTERS["feishu"](NOTICE, "http://hook").body["content"]["post"]["zh_cn"]["content"]
    for row in rows:
        for element in row:
            assert element["tag"] in FEISHU_TAGS and FEISHU_TAGS[element["tag"]] <= set(element)


def test_slack_blocks_are_documented_block_types_with_mrkdwn_text():
    blocks = FORMATTERS["slack"](NOTICE, "http://hook").body["blocks"]
    assert [b["type"] for b in blocks] == ["section", "context"]
    assert blocks[0]["text"]["type"] == "mrkdwn" and all(e["type"] == "mrkdwn" for e in blocks[1]["elements"])
    assert f"<{NOTICE.board_url}|board>" in blocks[1]["elements"][0]["text"]


def test_dingtalk_signature_is_hmac_of_timestamp_and_secret_in_the_url():
    request = FORMATTERS["dingtalk"](NOTICE, "https://oapi.dingtalk.com/robot/send?access_token=T", "SECabc", now=1700000000.123)
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(request.url).query)
    assert query["access_token"] == ["T"] and query["timestamp"] == ["1700000000123"]
    expected = base64.b64encode(hmac.new(b"SECabc", b"1700000000123\nSECabc", hashlib.sha256).digest()).decode()
    assert query["sign"] == [expected]


def test_feishu_signature_is_in_the_body_keyed_by_timestamp_and_secret():
    body = FORMATTERS["feishu"](NOTICE, "http://hook", "s3cret", now=1700000000.9).body
    assert body["timestamp"] == "1700000000"
    assert body["sign"] == base64.b64encode(hmac.new(b"1700000000\ns3cret", b"", hashlib.sha256).digest()).decode()


def test_wecom_content_is_cut_to_4096_bytes_keeping_the_links():
    long = Notice(**{**NOTICE.__dict__, "summary": "延迟" * 3000})
    content = FORMATTERS["wecom"](long, "http://hook").body["markdown"]["content"]
    assert len(content.encode()) <= WECOM_MAX_BYTES
    assert content.endswith(f"[board]({NOTICE.board_url}) · [runbook]({NOTICE.runbook_url})")


@pytest.fixture
def outcomes():
    seen: list[tuple[str, str]] = []
    return seen


def test_the_sender_retries_until_the_receiver_takes_it(outcomes):
    receiver = WebhookReceiver(answers=[(500, "busy"), (502, "gateway")])
    try:
        sender = Sender(on_outcome=lambda r, o: outcomes.append((r, o)), delays=(0.01, 0.01, 0.01))
        assert sender.send(Receiver(name="hook", format="generic", url=receiver.url), NOTICE) is None
        assert len(receiver.received) == 3 and outcomes == [("hook", "ok")]
    finally:
        receiver.close()


@pytest.mark.parametrize("format, answer", [("wecom", '{"errcode": 93000, "errmsg": "invalid webhook url"}'), ("dingtalk", '{"errcode": 310000, "errmsg": "sign not match"}'), ("feishu", '{"code": 19021, "msg": "sign match fail"}'), ("slack", "invalid_payload")])
def test_a_vendor_error_in_a_200_answer_is_a_failure_and_is_counted(outcomes, format, answer):
    receiver = WebhookReceiver(default=(200, answer))
    try:
        sender = Sender(on_outcome=lambda r, o: outcomes.append((r, o)), delays=(0.01,))
        problem = sender.send(Receiver(name="bot", format=format, url=receiver.url), NOTICE)
        assert problem and ("code" in problem or "answer" in problem)
        assert len(receiver.received) == 2 and outcomes == [("bot", "failed")]
    finally:
        receiver.close()


def test_an_unreachable_receiver_is_given_up_after_the_retries(outcomes):
    from pipelines.ports import free_port

    sender = Sender(on_outcome=lambda r, o: outcomes.append((r, o)), delays=(0.01, 0.01))
    problem = sender.send(Receiver(name="gone", format="slack", url=f"http://127.0.0.1:{free_port()}/x"), NOTICE)
    assert "ConnectError" in problem and outcomes == [("gone", "failed")]


def test_a_receiver_whose_url_variable_is_unset_says_so(outcomes, monkeypatch):
    monkeypatch.delenv("TRACKFLOW_TEST_HOOK", raising=False)
    problem = Sender(on_outcome=lambda r, o: outcomes.append((r, o))).send(Receiver(name="r", format="wecom", url_env="TRACKFLOW_TEST_HOOK"), NOTICE)
    assert problem == "receiver r: $TRACKFLOW_TEST_HOOK is not set" and outcomes == [("r", "failed")]
