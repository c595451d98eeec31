"""Analysis engine: one module per model (event, funnel, retention, interval, distribution), each declaring its
request, how it builds parameterised SQL over the `events` table and shapes the response (the contract in
`contract`, the models served in `registry`); `runner` runs them through the warehouse client.

Python API::

    from pipelines.analysis import run_query
    from pipelines.warehouse.client import Warehouse
    response = run_query({"model": "funnel", ...}, Warehouse(role="analyst"))
"""

from __future__ import annotations

__all__ = ["Limits", "QueryTimeout", "build_queries", "parse_request", "run_query"]


def __getattr__(name: str):
    # Lazy, so `trackflow --help` does not import every model (pipelines/cli.py registers analysis commands).
    if name in __all__:
        from pipelines.analysis import runner

        return getattr(runner, name)
    raise AttributeError(name)
