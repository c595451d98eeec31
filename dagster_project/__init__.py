"""Dagster code location for Trackflow's offline side: warehouse health now; offline pushes, the daily OneID
recomputation, CDP sync and storage tiering as those capabilities land. `definitions.py` only assembles;
resources, assets, checks and schedules live in their own modules."""
