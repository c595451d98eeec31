"""The combined-analysis page (issue 20 §5) in headless Chromium against the real API of `workbench_stack`: a chain
built on the page (a funnel, then the retention of the persons of a cell clicked in the funnel's own table) shows
each step's figures and the persons carried as the API answers the same chain, the later step equals its model
run by hand over the carried audience, a step without a cell is refused by its field, and the chain saves as a
report that reopens the page. Screenshot: docs/workbench/chain.png."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, unquote, urlparse

from .test_browser import FIRST, LAST, api_query, base, number, page, page_request, shot, sign_in, site  # noqa: F401 (fixtures)

FUNNEL = {"model": "funnel", "steps": [{"event": "product_view"}, {"event": "add_to_cart"}, {"event": "pay"}]}
RETENTION = {"model": "retention", "initial": {"event": "page_view"}, "returning": {"event": "page_view"}, "periods": 7}


def build(page, site) -> None:
    page.get_by_label("app", exact=True).select_option(site.app_id)
    page.get_by_label("from day").fill(FIRST.isoformat())
    page.get_by_label("to day").fill(LAST.isoformat())
    page.get_by_label("timezone").fill("UTC")
    requests = page.get_by_label("model request (JSON)")
    requests.nth(0).fill(json.dumps(FUNNEL))
    requests.nth(1).fill(json.dumps(RETENTION))


def shown_steps(page, step: int) -> list[int]:
    cells = page.get_by_test_id(f"chain-result-{step}").locator("[data-testid=funnel-steps] td[data-col=persons]")
    return [number(cell) for cell in cells.all_inner_texts()]


def test_a_chain_built_on_the_page_shows_the_api_figures_and_carries_a_clicked_cell(site, page):  # noqa: F811
    sign_in(page, site, site.analyst, "/analysis/chain")
    page.get_by_test_id("run").wait_for()
    build(page, site)
    page.get_by_test_id("chain-cell-0").fill("")
    page.click("[data-testid=run]")
    # The funnel's persons must go on: the API's error is shown at the step, by its field.
    error = page.get_by_test_id("chain-error-0")
    error.wait_for()
    assert error.inner_text().startswith("steps.0.persons")

    page.get_by_test_id("chain-cell-0").fill(json.dumps({"step": 3, "status": "dropped"}))
    page.click("[data-testid=run]")
    page.get_by_test_id("chain-carried-0").wait_for()
    # Clicking a cell in the funnel's own table makes it the cell carried on; run again.
    page.get_by_test_id("chain-result-0").locator("[data-testid=funnel-steps] tr[data-step='2']").get_by_role("button", name="converted").click()
    assert json.loads(page.get_by_test_id("chain-cell-0").input_value()) == {"step": 2, "status": "converted"}
    page.click("[data-testid=run]")
    page.wait_for_url(lambda url: "converted" in unquote(url))  # the page puts the chain in its URL as it sends it
    request = page_request(page)
    assert request["model"] == "chain" and request["steps"][0]["persons"] == {"step": 2, "status": "converted"}
    answer = api_query(site, request)
    funnel = answer["steps"][0]["result"]["groups"][0]["steps"]
    assert funnel[1]["persons"] > 0  # the comparisons below mean something
    page.wait_for_function(
        "n => document.querySelector('[data-testid=chain-carried-0] strong')?.textContent.replace(/,/g, '') === String(n)", arg=funnel[1]["persons"]
    )
    assert shown_steps(page, 0) == [step["persons"] for step in funnel]
    # The persons carried are the funnel's step-2 converters, counted by the API as the same number.
    carried = answer["steps"][0]["carried"]
    assert carried["persons"] == funnel[1]["persons"]
    assert number(page.get_by_test_id("chain-carried-0").locator("strong").inner_text()) == carried["persons"]

    # The retention step on the page equals the API's, and the retention run by hand over the carried audience.
    cohorts = answer["steps"][1]["result"]["cohorts"]
    rows = page.get_by_test_id("chain-result-1").locator("[data-testid=retention-table] tbody tr[data-cohort]")
    shown = [number(row.locator("td[data-col=persons]").inner_text()) for row in rows.all()]
    assert shown == [cohort["persons"] for cohort in cohorts] and sum(shown) > 0
    by_hand = {**RETENTION, "app_id": site.app_id, "date_from": FIRST.isoformat(), "date_to": LAST.isoformat(), "timezone": "UTC",
               "filters": [{"audience": carried["audience"], "op": "in", "version": carried["version"]}]}  # fmt: skip
    assert [c["persons"] for c in api_query(site, by_hand)["cohorts"]] == [c["persons"] for c in cohorts]
    shot(page, "chain")

    # Saved as a report, it reopens the page with the chain and runs it.
    page.get_by_label("chain name").fill("step-2 converters' retention")
    page.get_by_test_id("save").click()
    page.get_by_text("saved (version 1)").wait_for()
    report = parse_qs(urlparse(page.url).query)["report"][0]
    page.goto(f"{base(site)}/analysis/chain?report={report}")
    page.get_by_test_id("chain-carried-0").wait_for()
    assert json.loads(page.get_by_test_id("chain-cell-0").input_value()) == {"step": 2, "status": "converted"}
    assert shown_steps(page, 0) == [step["persons"] for step in funnel]

