"""Dynamic layering (实时数据分层): versioned rule documents that route raw events to `ods.<layer>` topics and trim
large fields. `rules` holds the document model and its validation, `route` the pure per-event function the
layering job calls, `control` the publishing of documents to the compacted `control.layering` topic."""
