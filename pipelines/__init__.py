"""Trackflow core package.

Capabilities, one package each: `collect` (the HTTP collector), `plan` (the tracking plan and quarantine),
`streaming` (the streaming jobs' pure functions), `layering` (dynamic layering rules), `identity` (OneID),
`analysis` (the analysis models and API), `heat` (query heat), `push` (offline pushes). Running them: `stack` (the
local stack's embedded engines), `flinkrun` (the jobs on a MiniCluster or a session cluster), `warehouse` (the one
place that talks to ClickHouse), `backfill` (envelope files straight into a detail table). The ground floor every
package may import: `config`, `errors`, `envelope`, `messaging`, `ports`, `secrets`, `serving`. The `trackflow`
command: `cli`, with `jobs_cli` (`trackflow jobs`) and `cli_errors` (its one error printer); `demo` and `demogen`
make demo data.
"""
