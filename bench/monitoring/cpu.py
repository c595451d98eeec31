"""CPU-seconds of process trees from /proc/<pid>/stat, for benches on a shared machine: what a set of processes
spent on the cores does not depend on how long other work made them wait for them, as wall-clock time does."""

from __future__ import annotations

import os

TICKS_PER_S = os.sysconf("SC_CLK_TCK")


def processes() -> dict[int, tuple[int, float]]:
    """pid -> (parent pid, CPU-seconds) of every process now: its threads' user+system time plus that of its children
    it has reaped (a child that exits moves its time into its parent's, so a tree's sum does not lose it)."""
    found: dict[int, tuple[int, float]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                text = stat.read()
        except OSError:  # exited between the listing and the read
            continue
        fields = text[text.rindex(")") + 2 :].split()  # after "pid (comm) ": the name may hold spaces and parentheses
        parent, utime, stime, cutime, cstime = int(fields[1]), *(int(f) for f in fields[11:15])
        found[int(entry)] = (parent, (utime + stime + cutime + cstime) / TICKS_PER_S)
    return found


def tree_cpu_seconds(roots: dict[str, list[int]]) -> dict[str, float]:
    """CPU-seconds so far of each named group of process trees (each root and all its descendants)."""
    table = processes()
    children: dict[int, list[int]] = {}
    for pid, (parent, _) in table.items():
        children.setdefault(parent, []).append(pid)
    totals: dict[str, float] = {}
    for name, pids in roots.items():
        pending, seen = [pid for pid in pids if pid in table], set()
        while pending:
            pid = pending.pop()
            if pid not in seen:
                seen.add(pid)
                pending.extend(children.get(pid, ()))
        totals[name] = sum(table[pid][1] for pid in seen)
    return totals
