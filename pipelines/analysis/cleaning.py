"""Cleaning rules for text a model groups by (page URLs and titles, path elements): RE2 `pattern` -> `replacement`,
applied in order to every match, as the warehouse's replaceRegexpAll does. Patterns are checked here with RE2
itself (google-re2: the library the warehouse compiles them with), so a pattern the warehouse would refuse, or one
too large to run on every event, is a 422 naming the rule instead of a failed query."""

from __future__ import annotations

import re
from collections.abc import Sequence

import re2
from pydantic import Field, model_validator

from pipelines.analysis.request import Strict
from pipelines.analysis.sqlparams import SqlParams

MAX_RULES = 20
MAX_PATTERN_CHARS = 500
MAX_PROGRAM_SIZE = 5_000  # RE2 instructions: a URL rule is tens; every rule runs on every event read
_REFERENCE = re.compile(r"\\(.?)", re.S)


def _options() -> re2.Options:
    options = re2.Options()
    options.log_errors = False  # the problem goes to the request's 422, not to the process's stderr
    return options


class CleaningRule(Strict):
    """Replace every match of `pattern` (RE2) with `replacement`, where `\\0` is the match, `\\1`-`\\9` its groups
    and `\\\\` a backslash; e.g. {"pattern": "/product/\\\\d+", "replacement": "/product/:id"}."""

    pattern: str = Field(min_length=1, max_length=MAX_PATTERN_CHARS)
    replacement: str = Field("", max_length=MAX_PATTERN_CHARS)

    @model_validator(mode="after")
    def _runs_in_the_warehouse(self) -> "CleaningRule":
        try:
            compiled = re2.compile(self.pattern, options=_options())
        except re2.error as exc:
            reason = exc.args[0].decode(errors="replace") if exc.args and isinstance(exc.args[0], bytes) else str(exc)
            raise ValueError(f"pattern: not an RE2 regular expression ({reason})") from None
        if compiled.programsize > MAX_PROGRAM_SIZE:
            raise ValueError(f"pattern: too large ({compiled.programsize:,} RE2 instructions, at most {MAX_PROGRAM_SIZE:,})")
        for reference in _REFERENCE.findall(self.replacement):
            if reference != "\\" and not (reference.isdigit() and int(reference) <= compiled.groups):
                raise ValueError(
                    f"replacement: \\{reference} is not a group of the pattern (\\0 to \\{compiled.groups}; \\\\ for a backslash)"
                )
        return self


def cleaned_sql(text: str, rules: Sequence[CleaningRule], params: SqlParams) -> str:
    """`text` (a String expression) with the rules applied in order."""
    for i, rule in enumerate(rules, 1):
        pattern = params.add(f"rule_{i}_pattern", rule.pattern, "String")
        text = f"replaceRegexpAll({text}, {pattern}, {params.add(f'rule_{i}_replacement', rule.replacement, 'String')})"
    return text
