"""CDP (issue 20): tags (标签) and audiences (客群) of persons keyed by OneID, in the warehouse (migration 0070).

- `store`: the one module that reads and writes `cdp_tags`, `cdp_audiences` and `cdp_audience_versions`: versioned
  audience writes (a version is visible only once complete), tags as of a time, the audience size limit.
- `names`: what an audience may be called; `chain_` names are the combined analysis's temporary audiences only.
- `sources` and `sync`: `cdp.yaml` sources (a PostgreSQL query, a CSV/Parquet file, a warehouse SQL) whose person
  ids are mapped to OneIDs through the identity graph inside the warehouse; run by Dagster (dagster_project/cdp.py)
  and `trackflow cdp sync`, with a run history in `cdp_sync_runs`.
- `audiences` (rules, saved results' persons, exports) and the filters of the analysis models build on `store`.
"""
