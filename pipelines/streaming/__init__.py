"""Pure functions of the streaming jobs (decode, normalise, dedup, batching, metrics): no Flink imports here, so
every rule of the jobs is unit-tested without a JVM. The jobs in `jobs/` wire them between sources and sinks."""
