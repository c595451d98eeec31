"""The ClickHouse SQL grammar (ClickHouseLexer.g4, ClickHouseParser.g4) and, in `generated/`, the Python parser
ANTLR 4.13.2 generates from it (`make grammar`). pipelines/heat parses with it."""
