"""OneID: the identity graph that ties a person's touchpoint ids (devices, cookies, logins, ...) to one id.

Modules, each one concern:
  rules      identity.yaml -> validated, versioned `Rules` (normalise a value, block junk, limits)
  links      an event's `ids` -> the links it proves (pure)
  graph      the rule-aware union-find every path shares: real-time job, offline replay, tests (pure)
  offline    deterministic, order-independent recomputation from all links, keeping OneIDs stable (pure)
  reconcile  real-time vs offline differences with reason codes (pure)
  changes    the `identity.changes` message format and its warehouse rows
  store      warehouse reads/writes (oneid_edges, oneid_map, oneid_merge_log, oneid_blocks, oneid_reconcile)
  index      the in-memory lookup index (cold start from the warehouse, kept fresh from identity.changes)
  service    the lookup HTTP service (Starlette)
  daily      the offline run: recompute -> reconcile -> publish (used by Dagster and the CLI)
  cli        `trackflow oneid ...`
"""
