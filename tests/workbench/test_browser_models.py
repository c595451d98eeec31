"""The pages of the second set of analysis models (paths, lifecycle, stickiness, page, terminal), the persons behind
interval and distribution buckets, retention periods still to come, and unknown-name warnings, in headless
Chromium against the real API server of `workbench_stack`. As in test_browser.py, the figures a page draws are
read from the chart's `data-*` attributes and table cells and compared with the API's answer to the request the
page ran (from its URL); screenshots go to docs/workbench/<model>.png."""

from __future__ import annotations

import datetime as dt
import json
from urllib.parse import quote

from .test_browser import FIRST, LAST, _scope, api_query, chart_values, number, open_model, page, page_request, shot, sign_in, site  # noqa: F401


def persons_listed(page) -> list[str]:
    page.get_by_test_id("person").first.wait_for()
    return page.locator("[data-testid=person] code").all_inner_texts()


def deep_link(page, site, request: dict) -> None:
    sign_in(page, site, site.analyst, f"/analysis/{request['model']}?q={quote(json.dumps(request))}")


def test_paths_from_pickers_draw_the_api_edges_and_an_edge_lists_its_persons(site, page):
    sign_in(page, site, site.analyst)
    open_model(page, site, "paths")
    page.get_by_label("start event", exact=True).select_option("product_view")
    page.get_by_label("steps", exact=True).fill("4")
    page.get_by_label("edges per step", exact=True).fill("3")
    page.click("[data-testid=run]")
    page.locator("[data-testid=paths-chart][data-rendered=true]").wait_for()
    request = page_request(page)
    assert (request["start"]["event"], request["steps"], request["edges_per_step"]) == ("product_view", 4, 3)
    answer = api_query(site, request)
    drawn = json.loads(page.get_by_test_id("paths-links").get_attribute("data-links"))
    expected = [[e["step"], e["source"], e["target"], e["count"], e["persons"]] for e in answer["edges"] if not e["other"] and e["step"] > 0]
    assert len(expected) >= 3  # the comparison below means something
    assert drawn == expected
    # At most 3 drawn edges per step (the rest are folded into the step's "other" edge, listed in the table).
    assert max(sum(1 for e in drawn if e[0] == step) for step in {e[0] for e in drawn}) <= 3
    assert page.locator("[data-testid=paths-edge]").count() == len(answer["edges"])

    edge = next(e for e in answer["edges"] if e["step"] == 1 and not e["other"])
    page.locator("[data-testid=paths-edge]").nth(answer["edges"].index(edge)).click()
    listed = persons_listed(page)
    page_of = {"step": 1, "source": edge["source"], "target": edge["target"], "limit": 50, "offset": 0}
    assert listed == api_query(site, {**request, "persons": page_of})["persons"]["persons"]
    assert len(listed) == min(50, edge["persons"])
    page.locator("[data-testid=persons] button", has_text="close").click()
    shot(page, "paths")


def test_lifecycle_from_pickers_draws_the_api_bars_dormant_below_the_axis(site, page):
    sign_in(page, site, site.analyst)
    open_model(page, site, "lifecycle")
    page.get_by_label("activity event", exact=True).select_option("$any")
    page.get_by_label("period", exact=True).select_option("day")
    page.click("[data-testid=run]")
    shown = chart_values(page, "lifecycle-chart")
    request = page_request(page)
    assert (request["event"]["event"], request["period"]) == ("$any", "day")
    periods = api_query(site, request)["periods"]
    assert sum(p["resurrecting"] for p in periods) > 0 and sum(p["dormant"] for p in periods) > 0
    for status in ("new", "returning", "resurrecting"):
        assert shown[status] == [p[status] for p in periods]
    assert shown["dormant"] == [-p["dormant"] for p in periods]
    # A bar's figure in the table lists its persons.
    bar = next(p for p in periods if p["resurrecting"] > 0)
    row = page.locator("[data-testid=lifecycle-table] tbody tr", has_text=bar["period"])
    row.locator("td").nth(3).click()  # period, new, returning, resurrecting
    listed = persons_listed(page)
    page_of = {"period": bar["period"], "status": "resurrecting", "limit": 50, "offset": 0}
    assert listed == api_query(site, {**request, "persons": page_of})["persons"]["persons"]
    assert len(listed) == min(50, bar["resurrecting"])
    page.locator("[data-testid=persons] button", has_text="close").click()
    shot(page, "lifecycle")


def test_an_unknown_event_name_shows_a_warning_naming_the_field(site, page):
    request = {**_scope(), "model": "lifecycle", "event": {"event": "no_such_event", "filters": []}, "period": "day"}
    deep_link(page, site, request)
    warnings = page.get_by_test_id("warnings")
    warnings.wait_for()
    answer = api_query(site, request)
    assert [w["name"] for w in answer["warnings"]] == ["no_such_event"]
    text = warnings.inner_text()
    assert "no_such_event" in text and all(field in text for field in answer["warnings"][0]["fields"])
    shot(page, "warning")


def test_stickiness_page_and_terminal_pages_show_the_api_figures(site, page):
    requests = {
        "stickiness": {**_scope(), "model": "stickiness", "event": {"event": "pay", "filters": []}, "period": "week"},
        "page": {**_scope(), "model": "page", "by": "url_path", "compare_previous": True, "max_pages": 10, "cleaning": [{"pattern": "/[0-9]+", "replacement": "/:id"}]},
        "terminal": {**_scope(), "model": "terminal", "dimensions": ["platform", "os"], "max_rows": 20},
    }
    deep_link(page, site, requests["stickiness"])
    shown = chart_values(page, "stickiness-chart")
    answer = api_query(site, requests["stickiness"])
    assert shown == {p["period"]: p["persons_by_days"] for p in answer["periods"]}
    shot(page, "stickiness")

    page.goto(f"{site.url.rstrip('/')}/analysis/page?q={quote(json.dumps(requests['page']))}")
    page.get_by_test_id("page-row").first.wait_for()
    answer = api_query(site, requests["page"])
    rows = page.locator("[data-testid=page-row]")
    assert rows.count() == len(answer["pages"]) > 0
    assert [number(rows.nth(i).locator("td").nth(1).inner_text()) for i in range(rows.count())] == [p["views"] for p in answer["pages"]]
    rows.first.click()
    listed = persons_listed(page)
    first = answer["pages"][0]
    assert listed == api_query(site, {**requests["page"], "persons": {"page": first["page"], "limit": 50, "offset": 0}})["persons"]["persons"]
    assert len(listed) == min(50, first["persons"])
    page.locator("[data-testid=persons] button", has_text="close").click()
    shot(page, "page")

    page.goto(f"{site.url.rstrip('/')}/analysis/terminal?q={quote(json.dumps(requests['terminal']))}")
    shown = chart_values(page, "terminal-chart")
    answer = api_query(site, requests["terminal"])
    assert list(reversed(shown["persons"])) == [r["persons"] for r in answer["rows_by_value"][:15]]
    shot(page, "terminal")


def test_interval_and_distribution_buckets_list_their_persons(site, page):
    interval = {**_scope(), "model": "interval", "start": {"event": "add_to_cart", "filters": []}, "end": {"event": "pay", "filters": []}, "group_by": None}
    deep_link(page, site, interval)
    page.locator("[data-testid=interval-histogram][data-rendered=true]").wait_for()
    groups = api_query(site, interval)["groups"]
    assert groups[0]["unmatched"] > 0
    page.locator("td[data-col=unmatched]").first.click()
    listed = persons_listed(page)
    assert listed == api_query(site, {**interval, "persons": {"unmatched": True, "limit": 50, "offset": 0}})["persons"]["persons"]

    distribution = {**_scope(), "model": "distribution", "event": {"event": "page_view", "filters": []}, "measure": "count", "bucket_edges": [1, 2, 3, 5, 10, 20]}
    page.goto(f"{site.url.rstrip('/')}/analysis/distribution?q={quote(json.dumps(distribution))}")
    chart = page.locator("[data-testid=distribution-chart][data-rendered=true]")
    chart.wait_for()
    buckets = api_query(site, distribution)["buckets"]
    tallest = max(range(len(buckets)), key=lambda i: buckets[i]["count"])
    # The tallest bar, clicked just above the axis (grid: 60 px left, 20 right, 40 bottom; one category per bucket).
    box = chart.bounding_box()
    width = box["width"] - 80
    chart.click(position={"x": 60 + width * (tallest + 0.5) / len(buckets), "y": box["height"] - 45})
    listed = persons_listed(page)
    assert listed == api_query(site, {**distribution, "persons": {"bucket": tallest, "limit": 50, "offset": 0}})["persons"]["persons"]
    assert len(listed) == min(50, buckets[tallest]["count"])


def test_retention_periods_still_to_come_are_blank_and_left_out_of_the_average(site, page):
    request = {**_scope(), "model": "retention", "initial": {"event": "page_view", "filters": []}, "returning": {"event": "page_view", "filters": []}, "period": "day", "periods": 5, "mode": "recurring"}
    deep_link(page, site, request)
    page.locator("[data-testid=retention-table] tr[data-cohort]").first.wait_for()
    cohorts = api_query(site, request)["cohorts"]
    assert cohorts[-1]["cohort"] == LAST.isoformat() and FIRST.isoformat() == cohorts[0]["cohort"]
    today = LAST  # the fixture's data ends today (UTC), the request's timezone
    for k in range(1, 6):
        happened = [c for c in cohorts if (dt.date.fromisoformat(c["cohort"]) + dt.timedelta(days=k)) <= today]
        future = [c for c in cohorts if c not in happened]
        assert len(future) == k  # the last k cohorts' period k is still to come
        for cohort in future:
            cell = page.locator(f"[data-testid=retention-table] tr[data-cohort='{cohort['cohort']}'] td[data-period='{k}']")
            assert cell.inner_text().strip() == ""
        expected = sum(c["returned"][k - 1] for c in happened) / sum(c["persons"] for c in happened)
        average = page.locator("[data-testid=retention-table] tr.average td").nth(k + 1).inner_text()
        assert average == f"{expected * 100:.1f}%"
