"""The audiences page (issue 20) over the real API: a rule audience built from the form's rows equals the API's
answer for it (size, plotted size history, members), and a rule naming an unknown event shows the API's error
naming it next to the form. Screenshot: docs/workbench/audiences.png."""

from __future__ import annotations

import json

from .test_browser import base, page, shot, sign_in, site  # noqa: F401 (fixtures)


def test_a_rule_audience_from_the_form_equals_the_api(site, page):  # noqa: F811
    sign_in(page, site, site.analyst, "/audiences")
    page.get_by_test_id("audience-form").wait_for()
    page.get_by_label("audience name").fill("wb_repeat_viewers")
    page.get_by_label("description").fill("viewed products twice in 30 days")
    page.get_by_label("app").select_option(site.app_id)
    page.get_by_label("schedule").select_option("daily")
    page.get_by_label("condition 1 name").fill("product_view")
    page.get_by_label("condition 1 at least").fill("2")
    page.click("[data-testid=create-audience]")
    chart = page.locator("[data-testid=size-history][data-rendered=true]")
    chart.wait_for()

    answer = site.api("GET", "/v1/audiences/wb_repeat_viewers", token=site.analyst_token).json()
    assert answer["definition"]["rule"] == {"app_id": site.app_id, "rule": {"event": "product_view", "filters": [], "at_least": 2, "days": 30}}
    assert answer["size"] > 0 and answer["kind"] == "dynamic"
    plotted = json.loads(chart.get_attribute("data-values"))
    assert plotted[0]["data"] == [h["size"] for h in answer["size_history"]]
    row = page.locator("[data-testid=audience]", has_text="wb_repeat_viewers")
    assert int(row.get_by_test_id("audience-size").inner_text()) == answer["size"]
    first = site.api("GET", "/v1/audiences/wb_repeat_viewers/members?limit=50", token=site.analyst_token).json()["members"]
    assert page.get_by_test_id("members").inner_text().split(" · ") == first
    shot(page, "audiences")

    page.get_by_label("audience name").fill("wb_typo")
    page.get_by_label("condition 1 name").fill("product_veiw")
    page.click("[data-testid=create-audience]")
    error = page.locator("[data-field=rule]")
    error.wait_for()
    assert "product_veiw" in error.inner_text()
    assert site.api("GET", "/v1/audiences/wb_typo", token=site.analyst_token).status_code == 404
