"""The warehouse copy of the tracking plan (`tracking_plan` table): apply a parsed plan, read what is applied."""

from __future__ import annotations

import json
from dataclasses import dataclass

from pipelines.plan.model import AppPlan, plan_to_dict
from pipelines.warehouse.client import Warehouse

COLUMNS = (
    "app_id", "version", "fingerprint", "event", "description", "properties",
    "policy_undeclared_events", "policy_undeclared_properties",
)  # fmt: skip


class PlanConflict(RuntimeError):
    """The same app and version was applied before with different content."""


@dataclass(frozen=True)
class ApplyResult:
    app_id: str
    version: int
    applied: bool  # False: this exact version was already there


def applied_fingerprint(warehouse: Warehouse, app_id: str, version: int) -> str | None:
    rows = warehouse.rows(
        "SELECT any(fingerprint) FROM tracking_plan FINAL WHERE app_id = {app:String} AND version = {version:UInt32} HAVING count() > 0",
        {"app": app_id, "version": version},
    )
    return rows[0][0] if rows else None


def apply_plan(warehouse: Warehouse, plan: AppPlan) -> ApplyResult:
    """Insert the plan's events under its version. Idempotent for identical content; a changed plan must raise
    its version, so every version number means one content forever (like a migration)."""
    existing = applied_fingerprint(warehouse, plan.app_id, plan.version)
    if existing == plan.fingerprint:
        return ApplyResult(plan.app_id, plan.version, applied=False)
    if existing is not None:
        raise PlanConflict(
            f"{plan.source}: {plan.app_id} version {plan.version} was applied with different content; raise `version`"
        )
    described = plan_to_dict(plan)["events"]
    rows = [
        [
            plan.app_id, plan.version, plan.fingerprint, name, spec.description,
            json.dumps(described[name]["properties"], sort_keys=True),
            plan.policy.undeclared_events, plan.policy.undeclared_properties,
        ]
        for name, spec in sorted(plan.events.items())
    ]  # fmt: skip
    if rows:
        # One token per app+version: a retried apply after a timeout is deduplicated by the warehouse.
        warehouse.insert("tracking_plan", rows, COLUMNS, settings={"insert_deduplication_token": f"plan-{plan.app_id}-{plan.version}-{plan.fingerprint}"})
    return ApplyResult(plan.app_id, plan.version, applied=True)
