"""Audiences defined in Trackflow (issue 20 §3), on top of the CDP's warehouse tables (pipelines.cdp.store) and the
analysis models (pipelines.analysis):

- `rules`: rules on tags, audiences and behaviour, compiled to one parameterised warehouse SELECT of the members;
- `definitions`: audience definitions in the workbench's metadata store (static or dynamic, a rule or a result's
  persons via pipelines.analysis.result_persons), computed into versions with their size history;
- `export`: the current version to a PostgreSQL table or a file, over the push machinery;
- `cli`: `trackflow audiences ...`. The HTTP routes are the workbench's (pipelines/workbench/audiences.py), the
  schedule Dagster's (dagster_project/audiences.py).

A package of its own, not part of pipelines.cdp: it builds on the analysis models, which themselves read the CDP
(the combined analysis writes audience versions), so living in pipelines.cdp would make the two import each other.
"""
