"""PyFlink job entry points. Each module has `build(env, settings, ...)` that wires sources, the pure functions of
`pipelines.layering` / `pipelines.streaming` and sinks, and a `main()` that runs it (see pipelines.flinkrun)."""
