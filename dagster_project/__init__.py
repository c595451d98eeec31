"""Dagster code location for Trackflow's offline side: warehouse health, query-heat grading, the daily OneID
recompute, offline pushes and the hourly stage reconciliation. Each module owns its definitions (`defs`);
`definitions.py` only merges them."""
