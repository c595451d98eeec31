"""Conditions combined by the expression helper get the parentheses precedence needs, decided by how they were
built, not by searching their text."""

from __future__ import annotations

from pipelines.analysis.expr import all_of, any_of


def test_parentheses_follow_the_operators():
    either = any_of(["a = 1", "b = 2"])
    assert all_of([either, "c = 3"]) == "(a = 1 OR b = 2) AND c = 3"
    assert any_of([all_of(["a = 1", "b = 2"]), "c = 3"]) == "a = 1 AND b = 2 OR c = 3"
    assert all_of([all_of(["a = 1", "b = 2"]), "c = 3"]) == "a = 1 AND b = 2 AND c = 3"
    assert any_of([either, "c = 3"]) == "a = 1 OR b = 2 OR c = 3"


def test_empty_parts_are_skipped():
    assert all_of([]) == "1" and any_of([]) == "0"
    assert all_of(["", "a = 1", None]) == "a = 1"
    assert all_of([any_of(["a", ""]), "b"]) == "a AND b"  # one part left: nothing to group


def test_the_warehouse_reads_them_as_built(analyst):
    # Without the parentheses `1 OR 0 AND 0` would be true.
    assert analyst.scalar(f"SELECT {all_of([any_of(['1', '0']), '0'])}") == 0
    assert analyst.scalar(f"SELECT {any_of([all_of(['1', '0']), '1'])}") == 1
