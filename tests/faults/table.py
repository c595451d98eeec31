"""The fault suite's measured table: `python -m tests.faults.table [drill ...]` runs the drills (tests/faults/harness)
on one private stack and prints sent / acknowledged / in warehouse / duplicates / lost per fault. Run it under
`flock -x /tmp/trackflow-cpu.lock` (it starts Flink)."""

from __future__ import annotations

import argparse
import sys

from tests.faults.harness import DRILLS, DrillStack


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("drills", nargs="*", metavar="drill", help=f"some of: {', '.join(DRILLS)} (default: all)")
    names = parser.parse_args().drills or list(DRILLS)
    unknown = [name for name in names if name not in DRILLS]
    if unknown:
        parser.error(f"unknown drill(s) {', '.join(unknown)}; choose from {', '.join(DRILLS)}")
    stack = DrillStack()
    rows = []
    try:
        stack.up()
        stack.wait_jobs_running()
        for name in names:
            try:
                rows.append(DRILLS[name](stack))
            except Exception as exc:  # a drill that cannot finish is a row too
                print(f"{name}: {exc.__class__.__name__}: {exc}", file=sys.stderr)
    finally:
        stack.close()
    print(f"{'fault':<28} {'sent':>6} {'acked':>6} {'in warehouse':>12} {'count()':>8} {'duplicates':>10} {'lost':>5} {'s':>5}")
    for row in rows:
        print(
            f"{row.fault:<28} {row.sent:>6} {row.acknowledged:>6} {row.distinct:>12} {row.rows:>8} "
            f"{row.duplicates:>10} {row.lost:>5} {row.seconds:>5.0f}"
        )
    print(f"(stack and logs: {stack.root})")
    return 0 if rows and all(row.exact for row in rows) and len(rows) == len(names) else 1


if __name__ == "__main__":
    sys.exit(main())
