"""`python -m pipelines.workbench.openapi`: print the API's OpenAPI document (analysis, plan and workbench paths),
the one `GET /openapi.json` serves; the web build generates its typed client from it."""

from __future__ import annotations

import json

from pipelines.analysis.api import openapi_document
from pipelines.workbench.spec import PATHS, SCHEMAS, SECURITY


def main() -> None:
    print(json.dumps(openapi_document(PATHS, SCHEMAS, SECURITY), indent=2, sort_keys=True))


if __name__ == "__main__":
    main()
