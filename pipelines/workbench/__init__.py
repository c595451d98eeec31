"""The analyst workbench's server side, served by the analysis API (`trackflow api`, stack component `api`):

- the metadata store: a PostgreSQL database (`meta_database`) with ordered migrations in `sql/meta/` (store.py);
- accounts: users with argon2id passwords and analyst/admin roles, their hashed API tokens (users.py), browser
  sessions in HttpOnly SameSite=Strict cookies with CSRF tokens and sign-in throttling (sessions.py, auth.py);
- saved reports and dashboards with owners, admin sharing and optimistic versions (items.py, routes.py);
- the event/property catalog of an app, from its tracking plan and what the warehouse saw (catalog.py);
- the built web app in `web/dist` (static.py), the workbench's OpenAPI paths (spec.py) and the app that joins it
  all to the analysis API (app.py); `trackflow users ...` and `trackflow api` (cli.py).

The analysis package does not import this one: the workbench hands its authentication, routes and OpenAPI paths
to `pipelines.analysis.api.create_app`.
"""
