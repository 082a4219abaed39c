-- Tables every Homeward service keeps: the transactional outbox, the hash-chained audit log
-- and the record of handled request ids.

CREATE TABLE outbox (
    id             BIGSERIAL PRIMARY KEY,
    event_id       TEXT NOT NULL,
    event_type     TEXT NOT NULL,
    aggregate_id   TEXT NOT NULL,
    payload_type   TEXT NOT NULL,
    payload        BYTEA NOT NULL,
    traceparent    TEXT NOT NULL DEFAULT '',
    occurred_at_us BIGINT NOT NULL
);

-- Stream positions, given after commit by the sequencer in commit order (see outbox.rs). They
-- live in narrow tables of their own so that sequencing never rewrites the wide event rows.
CREATE TABLE outbox_pending (
    outbox_id BIGINT PRIMARY KEY
);
CREATE TABLE outbox_positions (
    position  BIGINT PRIMARY KEY,
    outbox_id BIGINT NOT NULL
);

CREATE FUNCTION outbox_mark_pending() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO outbox_pending (outbox_id) SELECT id FROM new_rows;
    RETURN NULL;
END $$;
CREATE TRIGGER outbox_pending_on_insert AFTER INSERT ON outbox
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION outbox_mark_pending();

CREATE TABLE audit_log (
    id             BIGSERIAL PRIMARY KEY,
    recorded_at_us BIGINT NOT NULL,
    actor          TEXT NOT NULL,
    action         TEXT NOT NULL,
    target         TEXT NOT NULL,
    request_id     TEXT NOT NULL DEFAULT '',
    details        TEXT NOT NULL DEFAULT '{}'
);

-- The chain: entries are never changed once written; the sequencer links them in id order here
-- (see audit.rs), with the entries waiting for it listed in audit_pending.
CREATE TABLE audit_pending (
    audit_id BIGINT PRIMARY KEY
);
CREATE TABLE audit_chain (
    sequence  BIGINT PRIMARY KEY,
    audit_id  BIGINT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL
);

CREATE FUNCTION audit_mark_pending() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO audit_pending (audit_id) SELECT id FROM new_rows;
    RETURN NULL;
END $$;
CREATE TRIGGER audit_pending_on_insert AFTER INSERT ON audit_log
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION audit_mark_pending();

CREATE TABLE idempotency (
    scope         TEXT NOT NULL,
    request_id    TEXT NOT NULL,
    fingerprint   TEXT NOT NULL,
    response      BYTEA NOT NULL,
    created_at_us BIGINT NOT NULL,
    PRIMARY KEY (scope, request_id)
);
