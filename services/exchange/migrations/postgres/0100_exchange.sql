-- The exchange service's own tables. Every record is kept as JSON (the domain type); the
-- columns beside it are what queries filter, order and constrain on. All tables share one
-- shape so the store writes them the same way:
--   seq     keyset order for paging (creation order)
--   id      the record's id, unique in its table
--   parent  the record it belongs to (agreement of a phase, phase of a list, reconciliation of
--           an item...)
--   tag     the one value lists filter on (a phase's state, a consent's decision...)
--   version optimistic concurrency: an update names the version it replaces
--   due_us  when a background worker should look at the record (see homeward_kit::docs)

CREATE TABLE agreements (
    seq BIGSERIAL PRIMARY KEY, id TEXT NOT NULL UNIQUE, parent TEXT NOT NULL, tag TEXT NOT NULL,
    version BIGINT NOT NULL, record TEXT NOT NULL, due_us BIGINT
);

CREATE TABLE phases (
    seq BIGSERIAL PRIMARY KEY, id TEXT NOT NULL UNIQUE, parent TEXT NOT NULL, tag TEXT NOT NULL,
    version BIGINT NOT NULL, record TEXT NOT NULL,
    -- Set while a step with the registry (reserve, release, repatriate) is under way, so a
    -- restarted service finds and finishes it.
    due_us BIGINT
);
CREATE INDEX phases_by_agreement ON phases (parent, seq);
CREATE INDEX phases_by_parent_tag ON phases (parent, tag, seq);
CREATE INDEX phases_due ON phases (due_us) WHERE due_us IS NOT NULL;

-- id is "<phase id>/<party>/<kind>/<version>"; its uniqueness is what makes two concurrent
-- submissions of the same next version fail instead of both landing.
CREATE TABLE list_versions (
    seq BIGSERIAL PRIMARY KEY, id TEXT NOT NULL UNIQUE, parent TEXT NOT NULL, tag TEXT NOT NULL,
    version BIGINT NOT NULL, record TEXT NOT NULL, due_us BIGINT
);
CREATE INDEX list_versions_by_phase ON list_versions (parent, seq);
CREATE INDEX list_versions_by_parent_tag ON list_versions (parent, tag, seq);

CREATE TABLE reconciliations (
    seq BIGSERIAL PRIMARY KEY, id TEXT NOT NULL UNIQUE, parent TEXT NOT NULL, tag TEXT NOT NULL,
    version BIGINT NOT NULL, record TEXT NOT NULL, due_us BIGINT
);

-- id is "<reconciliation id>/<item number>".
CREATE TABLE reconciliation_items (
    seq BIGSERIAL PRIMARY KEY, id TEXT NOT NULL UNIQUE, parent TEXT NOT NULL, tag TEXT NOT NULL,
    version BIGINT NOT NULL, record TEXT NOT NULL, due_us BIGINT
);
CREATE INDEX reconciliation_items_by_parent ON reconciliation_items (parent, seq);
CREATE INDEX reconciliation_items_by_parent_tag ON reconciliation_items (parent, tag, seq);

CREATE TABLE consents (
    seq BIGSERIAL PRIMARY KEY, id TEXT NOT NULL UNIQUE, parent TEXT NOT NULL, tag TEXT NOT NULL,
    version BIGINT NOT NULL, record TEXT NOT NULL, due_us BIGINT
);
CREATE INDEX consents_by_phase ON consents (parent, seq);
CREATE INDEX consents_by_parent_tag ON consents (parent, tag, seq);

CREATE TABLE hold_backs (
    seq BIGSERIAL PRIMARY KEY, id TEXT NOT NULL UNIQUE, parent TEXT NOT NULL, tag TEXT NOT NULL,
    version BIGINT NOT NULL, record TEXT NOT NULL, due_us BIGINT
);
CREATE INDEX hold_backs_by_phase ON hold_backs (parent, seq);
CREATE INDEX hold_backs_by_parent_tag ON hold_backs (parent, tag, seq);

CREATE TABLE handover_checks (
    seq BIGSERIAL PRIMARY KEY, id TEXT NOT NULL UNIQUE, parent TEXT NOT NULL, tag TEXT NOT NULL,
    version BIGINT NOT NULL, record TEXT NOT NULL, due_us BIGINT
);
CREATE INDEX handover_checks_by_phase ON handover_checks (parent, seq);
CREATE INDEX handover_checks_by_parent_tag ON handover_checks (parent, tag, seq);
