"""Scoring extraction against the reference (`oracle.py`): per-query comparison and corpus-wide precision/recall.
Shared by tests/heat and bench/heat so both report the same numbers."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class SetScore:
    true_positives: int = 0
    predicted: int = 0
    expected: int = 0

    def add(self, predicted: set, expected: set) -> None:
        self.true_positives += len(predicted & expected)
        self.predicted += len(predicted)
        self.expected += len(expected)

    @property
    def precision(self) -> float:
        return self.true_positives / self.predicted if self.predicted else 1.0

    @property
    def recall(self) -> float:
        return self.true_positives / self.expected if self.expected else 1.0


@dataclass
class CorpusScore:
    queries: int = 0
    parsed: int = 0
    tables: SetScore = field(default_factory=SetScore)
    columns: SetScore = field(default_factory=SetScore)
    events: SetScore = field(default_factory=SetScore)
    mismatches: list[str] = field(default_factory=list)

    @property
    def parse_rate(self) -> float:
        return self.parsed / self.queries if self.queries else 1.0

    def add(self, query_id: str, predicted: dict[str, set] | None, expected: dict[str, list] | None) -> None:
        """`predicted` None: the query did not parse. `expected` None: parse-only entry (no reference)."""
        self.queries += 1
        if predicted is None:
            self.mismatches.append(f"{query_id}: did not parse")
            if expected is not None:
                self.tables.add(set(), set(expected["tables"]))
                self.columns.add(set(), set(expected["columns"]))
                self.events.add(set(), set(expected["events"]))
            return
        self.parsed += 1
        if expected is None:
            return
        for name, score in (("tables", self.tables), ("columns", self.columns), ("events", self.events)):
            want, got = set(expected[name]), set(predicted[name])
            score.add(got, want)
            if want != got:
                self.mismatches.append(f"{query_id} {name}: missing {sorted(want - got)} extra {sorted(got - want)}")


def predicted_sets(extraction) -> dict[str, set]:
    """The comparable part of an `Extraction`: table names, `db.table.column` names (no `*`), event names."""
    return {
        "tables": set(extraction.tables),
        "columns": {use.qualified for use in extraction.columns if use.column != "*"},
        "events": {event.event for event in extraction.events},
    }
