"""Trackflow core package: configuration, the local stack, the warehouse client and every pipeline capability
(collect, layering, identity, analysis, heat, cdp, monitor), plus the `trackflow` CLI."""
