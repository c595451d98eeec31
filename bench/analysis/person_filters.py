"""Audience filter overhead (issue 20, Measure): the 4-step funnel and the 30-day retention of bench.analysis.run on
its 10M-event / 1M-person demo shop, each alone and with an audience filter of 100,000 persons, in turns within each
round, best of `--repeat`. Goal: with the filter at most 1.3x the same model without it.

    flock -x /tmp/trackflow-cpu.lock .venv/bin/python -m bench.analysis.person_filters --keep /tmp/tf-analysis-10m

`in` reads every row of the model and keeps a tenth of the persons (so the model after the filter has less to do);
`not_in` keeps nine tenths: the membership test on every event plus nearly all the model's own work, the fairer
overhead figure. The audience is every person of the data whose key falls in one tenth of the hash space, written
(once per kept data dir) as version 1 of `bench_100k` by an INSERT ... SELECT inside the warehouse, as the CDP store
writes members.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.analysis.run import APP, best_of, data_arguments, demo_warehouse, requests  # noqa: E402
from pipelines.analysis.runner import Limits, run_query  # noqa: E402
from pipelines.analysis.schema import PERSON, TABLE  # noqa: E402
from pipelines.warehouse.client import Warehouse  # noqa: E402

AUDIENCE, VERSION, PERSONS = "bench_100k", 1, 100_000
MODELS = ("funnel 4 steps (1 day window)", "retention 30 days")


def write_audience(writer: Warehouse) -> int:
    """The audience's size, writing it first if this data dir does not hold it yet."""
    size = writer.scalar("SELECT max(size) FROM cdp_audience_versions WHERE audience = {a:String}", {"a": AUDIENCE})
    if size:
        return size
    writer.command(
        f"INSERT INTO cdp_audiences SELECT {{a:String}}, {{v:UInt64}}, person, cityHash64(person) FROM "
        f"(SELECT DISTINCT {PERSON} AS person FROM {TABLE} WHERE app_id = {{app:String}}) "
        "WHERE cityHash64(person) % 10 = 0 ORDER BY person LIMIT {n:UInt64}",
        {"a": AUDIENCE, "v": VERSION, "app": APP, "n": PERSONS},
    )
    size = writer.scalar("SELECT count() FROM cdp_audiences WHERE audience = {a:String} AND version = {v:UInt64}", {"a": AUDIENCE, "v": VERSION})
    writer.command(
        "INSERT INTO cdp_audience_versions VALUES ({a:String}, {v:UInt64}, {n:UInt64}, 'saved', 'bench', now64(3))",
        {"a": AUDIENCE, "v": VERSION, "n": size},
    )
    return size


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    data_arguments(parser)
    args = parser.parse_args(argv)
    with demo_warehouse(args) as (settings, end):
        size = write_audience(Warehouse(settings))
        analyst = Warehouse(settings, role="analyst")
        limits = Limits(timeout_s=300, max_result_rows=1_000_000)
        print(f"audience {AUDIENCE}: {size:,} persons\n")
        header = f"{'model':<32} {'alone s':>8} {'in s':>8} {'x alone':>8} {'not_in s':>9} {'x alone':>8}  persons (alone / in / not_in)"
        print(header + "\n" + "-" * len(header))
        for name in MODELS:
            request = requests(end)[name]
            variants = [request] + [{**request, "filters": [{"audience": AUDIENCE, "op": op}]} for op in ("in", "not_in")]
            (alone, within, outside), responses = best_of(args.repeat, *(lambda r=r: run_query(r, analyst, limits) for r in variants))
            if request["model"] == "funnel":
                persons = [r["groups"][0]["steps"][0]["persons"] for r in responses]
            else:
                persons = [sum(c["persons"] for c in r["cohorts"]) for r in responses]
            assert persons[1] + persons[2] == persons[0], persons  # in and not_in split the persons exactly
            print(
                f"{name:<32} {alone:>8.3f} {within:>8.3f} {within / alone:>8.2f} {outside:>9.3f} {outside / alone:>8.2f}  "
                f"{persons[0]:,} / {persons[1]:,} / {persons[2]:,}",
                flush=True,
            )


if __name__ == "__main__":
    main()
