-- Candidates for search and matching come from the in-memory identity index, so the stored
-- name keys are gone. A person merged into another as a duplicate points to the survivor.
ALTER TABLE persons DROP COLUMN search_keys;
ALTER TABLE persons ADD COLUMN merged_into TEXT;
