"""The tracking plan (点位仓库): declared events with typed property schemas, per-app policies, compiled validators,
its warehouse copy, the quarantine of events that fail it, and tracking-point health."""

MAX_DAYS = 366  # the longest look-back of tracking-point health and point queries (CLI and API)
