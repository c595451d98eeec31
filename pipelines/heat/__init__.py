"""Query heat: which tables, columns and tracking events analysts actually use.

Every query through `pipelines.warehouse.client.Warehouse` reaches the recorder (`recorder.py`), which parses it
off the hot path with the project's ANTLR grammar (`grammars/`), extracts what it reads (`extract.py`: a parse
step then small pure passes `qualify`, `tables`, `columns`, `events`, `timerange`) and writes `query_log` and
`query_heat`. `grading.py` rolls that up into hot/warm/cold tiers that the Dagster tiering and layering jobs read.
See docs/heat.md.
"""
