"""Combined-analysis benchmark: a 3-step chain (funnel step-3 drop-offs -> their paths from product_view -> the
retention of those who took the top edge) against the sum of its three steps run alone (goal: at most + 20%).

    flock -x /tmp/trackflow-cpu.lock .venv/bin/python -m bench.analysis.chain     # 10M events / 1M persons
    .venv/bin/python -m bench.analysis.chain --events 1000000 --persons 100000     # quick

The same dataset and warehouse set-up as bench.analysis.run. "Alone" is each step's model over everyone (no
audience filter); the chain runs each later step over the persons carried (fewer rows to group, the same rows
scanned) and writes two temporary audiences. A carried step's "in chain" time includes materialising its
per-person rows (chain.per_person_rows), its carry time reading the cell from them. Turns alternate within a round;
best of `--repeat`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os

from bench.analysis.run import APP, DAYS, FUNNEL_4, best_of, data_arguments, demo_warehouse
from pipelines.analysis.runner import Limits, run_query
from pipelines.warehouse.client import Warehouse


def chain_request(end: dt.date, edge: dict | None) -> dict:
    """The chain; without `edge` (the paths cell) only its first two steps, to find the top edge to carry on."""
    scope = {"app_id": APP, "date_from": (end - dt.timedelta(days=DAYS - 1)).isoformat(), "date_to": end.isoformat()}
    steps = [
        {"request": {"model": "funnel", "steps": [{"event": e} for e in FUNNEL_4]}, "persons": {"step": 3, "status": "dropped"}},
        {"request": {"model": "paths", "start": {"event": "product_view"}, "steps": 5}},
    ]
    if edge is not None:
        steps[1]["persons"] = edge
        steps.append({"request": {"model": "retention", "initial": {"event": "page_view"}, "returning": {"event": "page_view"}, "periods": 7}})
    return {"model": "chain", **scope, "steps": steps}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    data_arguments(parser)
    args = parser.parse_args(argv)
    with demo_warehouse(args) as (settings, end):
        print(f"load average before: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
        analyst = Warehouse(settings, role="analyst")
        limits = Limits(timeout_s=300, max_result_rows=1_000_000)
        two = run_query(chain_request(end, None), analyst, limits)
        top = max((e for e in two["steps"][1]["result"]["edges"] if e["step"] == 1 and not e["other"]), key=lambda e: e["persons"])
        chain = chain_request(end, {"step": 1, "source": top["source"], "target": top["target"]})
        alone = [{**chain["steps"][i]["request"], **{k: chain[k] for k in ("app_id", "date_from", "date_to")}} for i in range(3)]
        runs = [lambda: run_query(chain, analyst, limits), *(lambda request=request: run_query(request, analyst, limits) for request in alone)]
        (chain_s, *alone_s), (response, *_) = best_of(args.repeat, *runs)
        total = sum(alone_s)
        print(f"\n{'step':<54} {'alone s':>8} {'in chain s':>10} {'persons carried':>16} {'carry s':>8}")
        for i, (step, seconds) in enumerate(zip(response["steps"], alone_s)):
            carried = step["carried"] or {}
            label = f"{i}: {step['request']['model']}" + (f" {step['persons']}" if step["persons"] else "")
            print(f"{label:<54} {seconds:>8.3f} {step['query_ms'] / 1000:>10.3f} {carried.get('persons', ''):>16} {carried.get('carry_ms', 0) / 1000:>8.3f}")
        verdict = "met" if chain_s <= 1.2 * total else "not met"
        print(f"chain total {chain_s:.3f} s (best of {args.repeat}) against its steps alone {total:.3f} s = {chain_s / total:.2f}x (goal 1.2x: {verdict})")
        print(f"load average after: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
