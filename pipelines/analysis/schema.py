"""What the analysis models may reference in the warehouse: the table, typed envelope columns, materialized hot
properties, and the person identity. Identifiers in generated SQL come only from here."""

from __future__ import annotations

TABLE = "events"

# Envelope fields stored as their own columns; a filter or group-by on these names reads the column directly.
COLUMN_PROPERTIES = frozenset(
    {
        "event", "platform", "url", "referrer", "title", "os", "browser", "device_type", "app_version", "lib",
        "lib_version", "screen", "viewport", "session_id", "collector_id", "layer", "person_id", "oneid",
        "os_version", "browser_version", "device_model", "device_brand", "network_type", "carrier", "utm_source",
        "utm_medium", "utm_campaign", "referrer_domain",
    }
)  # fmt: skip

# Hot properties materialized in sql/migrations/0001_events.sql: same values as props[name], one narrow column.
MATERIALIZED_PROPERTIES = {"product_id": "p_product_id", "category": "p_category"}

# The person an event belongs to: the person's *current* OneID from the identity mapping (sql/migrations/0063),
# so past events follow later merges and splits; else the OneID stamped when the event was written; else the
# primary touchpoint id the envelope mapping chose (pipelines/envelope.py).
PERSON = "dictGetOrDefault('oneid_dict', 'oneid', person_id, if(oneid != '', oneid, person_id))"

# The same person as a 64-bit key, equal to cityHash64(PERSON), for analyses that only tell persons apart: the
# mapping keyed by the stored person_hash (sql/migrations/0065) instead of the person_id string, so no id string is
# read or hashed per event except a stamped OneID's.
PERSON_KEY = "dictGetOrDefault('oneid_hash_dict', 'oneid_hash', person_hash, if(oneid != '', cityHash64(oneid), person_hash))"

# Property and event names: letters, digits and a few separators. They are also bound as parameters, so this
# check is about clear errors for junk, not about safety.
NAME_PATTERN = r"^[A-Za-z_$][A-Za-z0-9_$.:\-]{0,99}$"
