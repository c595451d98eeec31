"""The workbench build: the committed OpenAPI document and the types generated from it are fresh, the app
type-checks, a call to a path the document does not have fails the type-check, and the first page fits its
size budget."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import uuid

import pytest

from .webapp import ROOT, WEB, built_dist, first_load, npm

FIRST_LOAD_BUDGET = 350 * 1024  # gzip bytes (issue 18)


@pytest.fixture(scope="module")
def node_modules():
    if shutil.which("npm") is None:
        pytest.skip("npm is not installed (make web installs the workbench's build tools)")
    if not (WEB / "node_modules").exists():
        installed = npm("ci", "--no-audit", "--no-fund")
        assert installed.returncode == 0, installed.stdout + installed.stderr
    return WEB / "node_modules"


def test_the_committed_openapi_document_and_types_are_fresh(node_modules, tmp_path):
    fresh = subprocess.run([sys.executable, "-m", "pipelines.workbench.openapi"], cwd=ROOT, capture_output=True, text=True, check=True)
    committed = json.loads((WEB / "openapi.json").read_text())
    assert committed == json.loads(fresh.stdout), "web/openapi.json is stale: run `npm run openapi && npm run types` in web/"
    document = tmp_path / "openapi.json"
    document.write_text(fresh.stdout)
    types = tmp_path / "schema.d.ts"
    generated = npm("exec", "--", "openapi-typescript", str(document), "--default-non-nullable", "false", "-o", str(types))
    assert generated.returncode == 0, generated.stdout + generated.stderr
    assert types.read_text() == (WEB / "src" / "api" / "schema.d.ts").read_text(), "web/src/api/schema.d.ts is stale: run `npm run types` in web/"


def test_the_app_type_checks(node_modules):
    checked = npm("run", "--silent", "typecheck")
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_a_call_to_a_path_the_api_does_not_document_fails_the_type_check(node_modules):
    probe = WEB / f".probe-{uuid.uuid4().hex[:8]}"
    probe.mkdir()
    try:
        (probe / "probe.ts").write_text(
            "import { api } from '../src/api/client'\n"
            "export const documented = api.GET('/v1/models')\n"
            "export const undocumented = api.GET('/v1/not-in-the-document')\n"
        )
        (probe / "tsconfig.json").write_text(json.dumps({"extends": "../tsconfig.json", "include": ["probe.ts", "../src/**/*.ts", "../src/**/*.d.ts", "../src/**/*.vue"]}))
        checked = npm("exec", "--", "vue-tsc", "--noEmit", "-p", str(probe / "tsconfig.json"))
    finally:
        shutil.rmtree(probe)
    output = checked.stdout + checked.stderr
    assert checked.returncode != 0
    assert re.search(r"probe\.ts\(3,", output), output  # the undocumented path, and only it
    assert "probe.ts(2," not in output


def test_the_first_page_fits_the_size_budget():
    sizes = first_load(built_dist())
    assert sizes, "index.html loads no script"
    assert sum(sizes.values()) <= FIRST_LOAD_BUDGET, sizes
