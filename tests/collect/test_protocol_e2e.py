"""The protocol intakes end to end: each vendor's real Python SDK -> the running collector -> the broker -> the event
path job (layering, dwd, metrics with the person-property loader) and the OneID job -> the warehouse. Each SDK sends
a page view, a login / identify and profile updates; the test finds the events with their typed fields, the two ids
joined to one OneID, and the person properties. Slow (two MiniClusters), so the jobs start once for the module."""

from __future__ import annotations

import uuid

import pytest
import sensorsanalytics

from pipelines.person_properties import latest
from tests.collect.conftest import APP_ID, APP_KEY
from tests.streaming.conftest import JobProcess, wait_for

pytestmark = pytest.mark.jvm


@pytest.fixture(scope="module")
def pipeline_jobs(stack, stack_settings, tmp_path_factory):
    """The event path (`all`: layering, dwd, metrics) and the OneID job, as the only jobs of the stack."""
    from pipelines.layering.control import apply
    from pipelines.stack import Stack
    from pipelines.stack.components import JOBS

    Stack(stack_settings, [JOBS]).down(report=lambda _: None)
    apply(stack_settings, "rules: []")
    log_dir = tmp_path_factory.mktemp("protocol-jobs")
    jobs = [JobProcess("all", log_dir), JobProcess("oneid", log_dir)]
    try:
        for job in jobs:
            job.start(recover="none")
        yield jobs
    finally:
        for job in jobs:
            job.stop()


def stored_events(warehouse, id_type: str, id_value: str, columns: str) -> list[tuple]:
    return warehouse.rows(
        f"SELECT event, {columns} FROM events WHERE app_id = {{app:String}} AND ids[{{type:String}}] = {{id:String}} ORDER BY ts, event",
        {"app": APP_ID, "type": id_type, "id": id_value},
    )


def joined(warehouse, *persons: str) -> bool:
    """Whether OneID maps every one of `persons` ('user_id:u-1') to one and the same OneID."""
    rows = dict(warehouse.rows("SELECT person_id, oneid FROM oneid_current WHERE person_id IN {persons:Array(String)}", {"persons": list(persons)}))
    return len(rows) == len(persons) and len(set(rows.values())) == 1


def properties_of(warehouse, person: str, want: dict[str, str]) -> None:
    try:
        wait_for(lambda: latest(warehouse, APP_ID, person) == want, timeout_s=120, what=f"{person}'s properties")
    except AssertionError:
        history = warehouse.rows("SELECT op, property, value, ts FROM person_property_log WHERE person_id = {p:String} ORDER BY ts", {"p": person})
        raise AssertionError(f"{person}: want {want}, found {latest(warehouse, APP_ID, person)}; history {history}") from None


def test_sensors_sdk_events_login_and_profiles_reach_the_warehouse_and_oneid(pipeline_jobs, collector_url, warehouse):
    run = uuid.uuid4().hex[:8]
    anonymous, user = f"sa-anon-{run}", f"sa-user-{run}"
    analytics = sensorsanalytics.SensorsAnalytics(sensorsanalytics.BatchConsumer(f"{collector_url}/sa?project={APP_KEY}", max_size=50))
    analytics.track(anonymous, "$pageview", {"$url": "https://shop.example/cart?utm_source=news", "$title": "Cart", "$os": "Android",
                                             "$os_version": "14", "$model": "Pixel 8", "$manufacturer": "Google",
                                             "$screen_width": 412, "$screen_height": 915, "$network_type": "WIFI"})  # fmt: skip
    analytics.track_signup(user, anonymous, {"method": "phone"})
    analytics.profile_set(user, {"vip": True, "city": "Leeds"}, is_login_id=True)
    analytics.profile_set_once(user, {"first_channel": "ad"}, is_login_id=True)
    analytics.profile_set_once(user, {"first_channel": "search"}, is_login_id=True)  # already set: kept as "ad"
    analytics.profile_append(user, {"tags": ["a", "b"]}, is_login_id=True)
    analytics.profile_unset(user, ["city"], is_login_id=True)
    analytics.flush()

    columns = "os, os_version, device_model, device_brand, screen_width, screen_height, network_type, utm_source, title, lib"
    pages = wait_for(lambda: stored_events(warehouse, "device_id", anonymous, columns), timeout_s=120, what="the Sensors events")
    assert ("page_view", "Android", "14", "Pixel 8", "Google", 412, 915, "WIFI", "news", "Cart", "python") in pages
    assert [row[0] for row in pages] == ["page_view", "signup"]
    assert wait_for(lambda: joined(warehouse, f"device_id:{anonymous}", f"user_id:{user}"), timeout_s=150, what="the OneID join")
    properties_of(warehouse, f"user_id:{user}", {"vip": "true", "first_channel": "ad", "tags": '["a","b"]'})
