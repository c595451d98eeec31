"""Offline pushes: daily warehouse partitions delivered to other departments' databases and files, in parallel
idempotent chunks with a resumable state table, dirty-record limits, throttling, deadline forecasts and
reconciliation (对账). Dagster runs them (dagster_project/pushes.py); `trackflow push` runs them by hand."""
