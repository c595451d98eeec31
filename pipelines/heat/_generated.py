"""Imports of the ANTLR-generated lexer and parser (`grammars/generated`, built by `make grammar`)."""

from grammars.generated.ClickHouseLexer import ClickHouseLexer
from grammars.generated.ClickHouseParser import ClickHouseParser

__all__ = ["ClickHouseLexer", "ClickHouseParser"]
