"""Analysis engine: one module per model (event, funnel, retention, interval, distribution), each validating a
request and building parameterised SQL over the `events` table; `runner` runs them through the warehouse client.

Python API::

    from pipelines.analysis import run_query
    from pipelines.warehouse.client import Warehouse
    response = run_query({"model": "funnel", ...}, Warehouse(role="analyst"))
"""

from pipelines.analysis.runner import Limits, QueryTimeout, build_queries, parse_request, run_query

__all__ = ["Limits", "QueryTimeout", "build_queries", "parse_request", "run_query"]
