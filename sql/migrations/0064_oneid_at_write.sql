-- Events carry their OneID from the moment they are written: a writer that leaves `oneid` out (all of them:
-- pipelines/envelope.py DETAIL_COLUMNS) gets the person's current OneID from the identity mapping, '' if the
-- person is not linked yet. Layer tables the dwd job creates later (`dwd_x AS dwd_default`) inherit this default.
-- Analyses still resolve the *current* OneID at read time (pipelines/analysis/schema.py), so later merges apply.
ALTER TABLE dwd_default MODIFY COLUMN oneid String DEFAULT dictGetOrDefault('oneid_dict', 'oneid', person_id, '');
