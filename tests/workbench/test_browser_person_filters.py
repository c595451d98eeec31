"""The person-level filter picker (issue 20 §4) over the real API: a global audience filter chosen in the funnel
page's filter row (kind, then the audience from the app's catalog) runs the request the API answers, and the chart
shows the API's numbers for it."""

from __future__ import annotations

from .test_browser import _scope, api_query, chart_values, open_model, page, page_request, sign_in, site  # noqa: F401 (fixtures)

STEPS = ["product_view", "add_to_cart", "pay"]


def test_an_audience_filter_picked_in_the_filter_row_equals_the_api(site, page):  # noqa: F811
    # The audience: the persons who converted from product_view to add_to_cart (saved from that result's persons).
    carters = {**_scope(), "model": "funnel", "steps": [{"event": e} for e in STEPS[:2]], "persons": {"step": 2, "status": "converted"}}
    made = site.api("POST", "/v1/audiences", json={"name": "wb_carters", "kind": "static", "result": carters}, token=site.analyst_token)
    assert made.status_code == 201, made.text

    sign_in(page, site, site.analyst)
    open_model(page, site, "funnel")
    page.get_by_role("button", name="+ step").click()
    for step, event in enumerate(STEPS, 1):
        page.get_by_label(f"step {step} event", exact=True).select_option(event)
    page.get_by_role("button", name="+ global filter").click()
    page.get_by_label("filter kind").select_option("audience")
    page.get_by_label("filter audience").select_option("wb_carters")
    page.click("[data-testid=run]")
    shown = chart_values(page, "funnel-chart")

    request = page_request(page)
    assert request["filters"] == [{"audience": "wb_carters", "op": "in"}]
    steps = api_query(site, request)["groups"][0]["steps"]
    whole = api_query(site, {**request, "filters": []})["groups"][0]["steps"]
    assert shown["converted"] == [step["persons"] for step in steps]
    # Everyone in the audience viewed then carted; fewer than all viewers did.
    assert steps[0]["persons"] == steps[1]["persons"] == made.json()["size"] < whole[0]["persons"]
