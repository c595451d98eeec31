"""Terminal and channel columns (pipelines/envelope.py TERMINAL_COLUMNS): derived once per row from what the
sender and the collector's user-agent parse put in the context, and written typed by the dwd writer, also into a
layer table made before the columns existed. The end-to-end path through the Flink jobs is in
test_pipeline_e2e.py (it shares that module's running jobs)."""

from __future__ import annotations

import string
import uuid

from hypothesis import given
from hypothesis import strategies as st

from pipelines.collect.enrich import describe_user_agent
from pipelines.envelope import DETAIL_COLUMNS, MAX_TERMINAL_CHARS, TERMINAL_COLUMNS, detail_row, domain_of, terminal_values
from pipelines.streaming.writer import DetailWriter

ANDROID_CHROME = "Mozilla/5.0 (Linux; Android 13; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0.6045.163 Mobile Safari/537.36"
IPHONE_SAFARI = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1"


def values(context: dict, props: dict | None = None) -> dict:
    return dict(zip(TERMINAL_COLUMNS, terminal_values(context, props or {})))


def test_user_agent_gives_versions_model_and_brand():
    assert describe_user_agent(ANDROID_CHROME) == {
        "os": "Android", "browser": "Chrome Mobile", "device_type": "mobile", "os_version": "13",
        "browser_version": "119.0.6045", "device_model": "SM-S918B", "device_brand": "Samsung",
    }  # fmt: skip
    iphone = describe_user_agent(IPHONE_SAFARI)
    assert (iphone["os_version"], iphone["browser_version"], iphone["device_brand"]) == ("17.1.2", "17.1", "Apple")
    assert describe_user_agent("curl/8.4.0") == {"browser": "curl", "browser_version": "8.4.0"}  # no os, no device
    assert describe_user_agent("") == {}


def test_derived_fields_and_what_the_sender_set_first():
    derived = values(
        {"screen": "1920x1080", "url": "https://a.example/p?utm_source=g&utm_medium=cpc&utm_campaign=w%201", "referrer": "https://WWW.Google.com/x"}
    )
    assert (derived["screen_width"], derived["screen_height"]) == (1920, 1080)
    assert (derived["utm_source"], derived["utm_medium"], derived["utm_campaign"]) == ("g", "cpc", "w 1")
    assert derived["referrer_domain"] == "google.com"
    # sent fields win: explicit screen size over the string, props over the URL, a sent referrer_domain over the referrer
    sent = values({"screen": "1x1", "screen_width": "390", "screen_height": 844.0, "url": "https://a.example/?utm_source=url",
                   "referrer": "https://b.example/", "referrer_domain": "app-store"}, {"utm_source": "props", "utm_medium": 7})  # fmt: skip
    assert (sent["screen_width"], sent["screen_height"], sent["utm_source"], sent["utm_medium"], sent["referrer_domain"]) == (390, 844, "props", "7", "app-store")
    # junk is no value: sizes out of UInt16, negative, booleans, unparsable screens and URLs
    for junk in ({"screen": "wide"}, {"screen_width": 70_000, "screen_height": 1}, {"screen_width": -1, "screen_height": 5},
                 {"screen_width": True, "screen_height": True}, {"screen": "100x"}):  # fmt: skip
        assert (values(junk)["screen_width"], values(junk)["screen_height"]) == (0, 0), junk
    assert values({"url": "http://[::1/?utm_source=x", "referrer": "http://[bad"})["referrer_domain"] == ""
    assert domain_of("example.com/path") == "example.com" and domain_of("") == ""


@given(
    context=st.dictionaries(
        st.sampled_from(["screen", "screen_width", "screen_height", "url", "referrer", "os_version", "utm_campaign", "carrier"]),
        st.one_of(st.text(), st.integers(), st.floats(allow_nan=True), st.booleans(), st.none()),
    ),
    props=st.dictionaries(st.sampled_from(["utm_source", "utm_medium", "other"]), st.one_of(st.text(), st.integers(), st.none())),
)
def test_any_context_maps_to_typed_values(context, props):
    """Whatever a sender puts there: text columns get text of bounded length, size columns UInt16, never an error."""
    got = values(context, props)
    for name, value in got.items():
        if name in ("screen_width", "screen_height"):
            assert isinstance(value, int) and 0 <= value <= 65_535
        else:
            assert isinstance(value, str) and len(value) <= MAX_TERMINAL_CHARS


def test_writer_adds_the_columns_to_a_layer_table_made_before_them(stack_settings, warehouse):
    """A dwd_<layer> made by an older version (no terminal columns) takes typed rows once the writer reaches it."""
    layer = "old_" + "".join(c for c in uuid.uuid4().hex if c in string.ascii_lowercase)[:6]
    table = f"dwd_{layer}"
    warehouse.command(f"CREATE TABLE {table} AS dwd_default")
    warehouse.command(f"ALTER TABLE {table} " + ", ".join(f"DROP COLUMN {c}" for c in TERMINAL_COLUMNS))
    run = uuid.uuid4().hex
    events = [
        {"event_id": str(uuid.uuid4()), "event": "page_view", "app_id": "terminal-app", "ts": 1_793_491_200_000 + i, "ids": {"device_id": f"d{i}"},
         "context": {"platform": "h5", **describe_user_agent(ANDROID_CHROME), "screen": "412x915", "network_type": "4g",
                     "url": "https://a.example/?utm_source=news", "referrer": "https://weixin.qq.com/s"},
         "props": {"run": run}}
        for i in range(20)
    ]  # fmt: skip
    writer = DetailWriter(stack_settings)
    try:
        assert writer.write(layer, events).written == 20
    finally:
        writer.close()
    rows = warehouse.rows(
        "SELECT DISTINCT os_version, device_model, device_brand, screen_width, screen_height, network_type, utm_source, referrer_domain "
        "FROM events WHERE props['run'] = {run:String}",
        {"run": run},
    )
    assert rows == [("13", "SM-S918B", "Samsung", 412, 915, "4g", "news", "weixin.qq.com")]
    assert [c for c in DETAIL_COLUMNS if c in TERMINAL_COLUMNS] == list(TERMINAL_COLUMNS)
    assert len(detail_row(events[0])) == len(DETAIL_COLUMNS)
