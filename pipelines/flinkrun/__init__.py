"""Running the streaming jobs: on a local MiniCluster (`trackflow jobs run`, the stack's `jobs` component), or
packaged and submitted with the `flink` CLI to a session cluster (`trackflow jobs submit`), plus list, stop and
savepoint through Flink's REST API."""
