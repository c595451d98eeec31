-- Combined analysis (pipelines/analysis/chain.py) passes persons between its steps as temporary audiences named
-- `chain_<hash>` (kind 'chain'), a new version each run. They are dropped by age: a day after they were written
-- (a version is a microsecond clock reading), at the next merge. Other audiences have no TTL; `chain_` names are
-- reserved for these (a chain's save_as refuses them).
ALTER TABLE cdp_audiences MODIFY TTL toDateTime(intDiv(version, 1000000)) + INTERVAL 1 DAY DELETE WHERE startsWith(audience, 'chain_');
ALTER TABLE cdp_audience_versions MODIFY TTL toDateTime(created) + INTERVAL 1 DAY DELETE WHERE startsWith(audience, 'chain_');
