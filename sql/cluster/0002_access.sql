-- Users and roles of Trackflow on a ClickHouse cluster: the same rights the embedded warehouse enforces
-- (pipelines/warehouse/access.py; tests/security/test_cluster_grants.py checks the two agree).
-- - trackflow_writer: the pipelines, migrations, loads and pushes. Owns the `trackflow` database; nothing else.
-- - trackflow_analyst: SELECT on trackflow.* (and dictGet on its dictionaries), nothing else: no INSERT or DDL,
--   no table functions (they need CREATE TEMPORARY TABLE plus a source grant such as FILE, URL, REMOTE or S3,
--   none of which is granted), no KILL QUERY of other users' queries, no SYSTEM.
-- - Limits live in the analyst's settings profile as constraints. readonly = 2, not 1: readonly = 1 forbids every
--   setting, including the ones the analysis models need (max_execution_time and max_result_rows per query, the
--   funnel's SETTINGS short_circuit_function_evaluation) and clickhouse-connect's own; readonly = 2 allows settings,
--   the constraints below bound the ones that are limits, and readonly itself cannot be changed under it.
-- Apply as an administrator: clickhouse-client --multiquery --queries-file sql/cluster/0002_access.sql
-- then create the users with secrets of your own (never stored in this repository), e.g.
--   CREATE USER trackflow_writer IDENTIFIED WITH sha256_password BY '...' DEFAULT ROLE trackflow_writer
--     SETTINGS PROFILE 'trackflow_writer' ON CLUSTER '{cluster}';
--   CREATE USER trackflow_analyst IDENTIFIED WITH sha256_password BY '...' DEFAULT ROLE trackflow_analyst
--     SETTINGS PROFILE 'trackflow_analyst' ON CLUSTER '{cluster}';
-- and give Trackflow TRACKFLOW_CLICKHOUSE_USER/PASSWORD and TRACKFLOW_ANALYST_USER/PASSWORD (docs/operations.md).
CREATE ROLE IF NOT EXISTS trackflow_writer ON CLUSTER '{cluster}';
CREATE ROLE IF NOT EXISTS trackflow_analyst ON CLUSTER '{cluster}';

GRANT ON CLUSTER '{cluster}' CREATE DATABASE, CREATE TABLE, CREATE VIEW, CREATE DICTIONARY, SELECT, INSERT, ALTER,
    DROP TABLE, DROP VIEW, DROP DICTIONARY, TRUNCATE, OPTIMIZE, SHOW, dictGet
    ON trackflow.* TO trackflow_writer;
-- Migrations on a cluster run ON CLUSTER; the heat importer reads the server's own query log.
GRANT ON CLUSTER '{cluster}' CLUSTER ON *.* TO trackflow_writer;
GRANT ON CLUSTER '{cluster}' SELECT ON system.query_log TO trackflow_writer;

GRANT ON CLUSTER '{cluster}' SELECT, dictGet ON trackflow.* TO trackflow_analyst;

CREATE SETTINGS PROFILE IF NOT EXISTS trackflow_analyst ON CLUSTER '{cluster}' SETTINGS
    readonly = 2 CONST,
    allow_ddl = 0 CONST,
    allow_introspection_functions = 0 CONST,
    max_execution_time = 300 MIN 1 MAX 300,
    max_memory_usage = 8589934592 MIN 1 MAX 8589934592
    TO trackflow_analyst;
CREATE SETTINGS PROFILE IF NOT EXISTS trackflow_writer ON CLUSTER '{cluster}' SETTINGS
    allow_introspection_functions = 0 CONST
    TO trackflow_writer;
