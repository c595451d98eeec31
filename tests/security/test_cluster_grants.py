"""sql/cluster/0002_access.sql grants on a ClickHouse cluster what the embedded warehouse enforces: each statement
parses with ClickHouse's own parser (chDB's formatQuery, which also rejects invalid grants), the analyst role holds
SELECT and dictGet on trackflow.* and nothing else, its limits are the embedded ceilings, and every statement
that needs a privilege the role lacks is refused by the embedded server too."""

from __future__ import annotations

import re

import httpx
import pytest

from pipelines.warehouse.access import ANALYST_CEILINGS, quote
from pipelines.warehouse.client import sql_dir

ACCESS_SQL = sql_dir() / "cluster" / "0002_access.sql"
ANALYST_ROLE = "trackflow_analyst"
# Privileges that include others in ClickHouse's hierarchy (the part of it these checks need).
PARENTS = {
    "FILE": ("SOURCES",), "URL": ("SOURCES",), "REMOTE": ("SOURCES",), "S3": ("SOURCES",),
    "SYSTEM FLUSH LOGS": ("SYSTEM", "SYSTEM FLUSH"), "CREATE TABLE": ("CREATE",), "DROP TABLE": ("DROP",),
    "CREATE TEMPORARY TABLE": ("CREATE",), "ALTER DELETE": ("ALTER", "ALTER TABLE"),
}  # fmt: skip
# (statement, privilege ClickHouse checks for it, database the privilege is checked on; None: global)
NOT_GRANTED = [
    ("SELECT * FROM file('/etc/hostname', 'LineAsString')", "FILE", None),
    ("SELECT * FROM file('/etc/hostname', 'LineAsString')", "CREATE TEMPORARY TABLE", None),
    ("INSERT INTO FUNCTION file('/tmp/trackflow-x', 'LineAsString') SELECT 'x'", "FILE", None),
    ("SELECT * FROM url('http://127.0.0.1:1/', 'LineAsString')", "URL", None),
    ("SELECT * FROM remote('127.0.0.1', system.one)", "REMOTE", None),
    ("SELECT * FROM s3('http://127.0.0.1:1/bucket/key', 'CSV')", "S3", None),
    ("KILL QUERY WHERE 1", "KILL QUERY", None),
    ("SYSTEM FLUSH LOGS", "SYSTEM FLUSH LOGS", None),
    ("INSERT INTO trackflow.quarantine (reason) VALUES ('x')", "INSERT", "trackflow"),
    ("CREATE TABLE trackflow.sneaky (k UInt8) ENGINE = Memory", "CREATE TABLE", "trackflow"),
    ("DROP TABLE IF EXISTS trackflow.no_such_table", "DROP TABLE", "trackflow"),
    ("ALTER TABLE trackflow.quarantine DELETE WHERE 1", "ALTER DELETE", "trackflow"),
    ("SELECT * FROM default.some_table", "SELECT", "default"),
]
GRANTED = [
    ("SELECT count() FROM trackflow.events", "SELECT", "trackflow"),
    ("SELECT dictGetOrDefault('trackflow.oneid_dict', 'oneid', 'nobody', '')", "dictGet", "trackflow"),
]


def statements() -> list[str]:
    text = "\n".join(line for line in ACCESS_SQL.read_text().splitlines() if not line.lstrip().startswith("--"))
    return [part.strip() for part in text.split(";") if part.strip()]


@pytest.fixture(scope="module")
def formatted(warehouse) -> list[str]:
    """Each statement of the file as ClickHouse's parser prints it on one line (an error if one does not parse)."""
    return [warehouse.scalar(f"SELECT formatQuerySingleLine({quote(statement)})") for statement in statements()]


@pytest.fixture(scope="module")
def analyst_grants(formatted) -> list[tuple[set[str], str]]:
    grants = []
    for statement in formatted:
        match = re.fullmatch(r"GRANT (?:ON CLUSTER \S+ )?(.+) ON (\S+) TO (.+)", statement)
        if match and ANALYST_ROLE in [role.strip() for role in match.group(3).split(",")]:
            grants.append(({p.strip() for p in match.group(1).split(",")}, match.group(2)))
    return grants


def granted(grants, privilege: str, database: str | None) -> bool:
    names = {privilege, "ALL", *PARENTS.get(privilege, ())}
    targets = {"*.*"} | ({f"{database}.*"} if database else set())
    return any(privileges & names and target in targets for privileges, target in grants)


@pytest.fixture(scope="module")
def as_analyst(stack, stack_settings):
    url = f"http://127.0.0.1:{stack_settings.bound_port('warehouse', 0)}/"
    auth = (stack_settings.analyst_user, stack_settings.analyst_password.get_secret_value())
    return lambda sql: httpx.post(url, params={"database": "trackflow"}, content=sql.encode(), auth=auth, timeout=30)


def test_the_analyst_role_holds_select_and_dictget_on_trackflow_only(analyst_grants):
    assert analyst_grants == [({"SELECT", "dictGet"}, "trackflow.*")]


def test_the_analyst_profile_has_the_embedded_ceilings_and_readonly_2(formatted):
    profile = next(s for s in formatted if s.startswith("CREATE SETTINGS PROFILE") and s.endswith(f"TO {ANALYST_ROLE}"))
    assert "readonly = 2 CONST" in profile and "allow_ddl = 0 CONST" in profile
    for name, ceiling in ANALYST_CEILINGS.items():
        assert f"{name} = {ceiling} MIN 1 MAX {ceiling}" in profile


@pytest.mark.parametrize("statement,privilege,database", NOT_GRANTED)
def test_what_the_role_lacks_the_embedded_server_refuses(analyst_grants, as_analyst, statement, privilege, database):
    assert not granted(analyst_grants, privilege, database)
    response = as_analyst(statement)
    assert response.status_code == 403 and response.headers["X-ClickHouse-Exception-Code"] in ("164", "291", "497"), response.text


@pytest.mark.parametrize("statement,privilege,database", GRANTED)
def test_what_the_role_holds_the_embedded_server_allows(analyst_grants, as_analyst, statement, privilege, database):
    assert granted(analyst_grants, privilege, database)
    response = as_analyst(statement)
    assert response.status_code == 200, response.text
