"""The code location: only assembles the modules, each of which owns its assets, jobs, schedules and sensors.
Loaded by `dagster dev` / `dg dev` from the repository root (pyproject.toml's `[tool.dg]`), or `trackflow orchestrate`.
Importing it reads the settings and the push definitions file; it opens no connection (resources connect when an
asset runs)."""

from dagster import Definitions

from dagster_project import audiences, cdp, heat, monitoring, oneid, pushes, resources, warehouse_health

defs = Definitions.merge(resources.defs, warehouse_health.defs, heat.defs, oneid.defs, pushes.defs, monitoring.defs, cdp.defs, audiences.defs)
