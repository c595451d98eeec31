"""The analysis models the engine serves: one line each. A new model is its module (see contract.py) plus one
line here; the runner, the API, its OpenAPI document and the model catalogue pick it up from this registry."""

from __future__ import annotations

from pipelines.analysis import distribution, event, funnel, interval, lifecycle, paths, retention, stickiness
from pipelines.analysis import chain, pages, terminals
from pipelines.analysis.contract import Registry

MODELS = Registry()
MODELS.register(event.MODEL)
MODELS.register(funnel.MODEL)
MODELS.register(retention.MODEL)
MODELS.register(interval.MODEL)
MODELS.register(distribution.MODEL)
MODELS.register(paths.MODEL)
MODELS.register(lifecycle.MODEL)
MODELS.register(stickiness.MODEL)
MODELS.register(pages.MODEL)
MODELS.register(terminals.MODEL)
MODELS.register(chain.model_over(MODELS))  # last: a chain's steps are the models above
