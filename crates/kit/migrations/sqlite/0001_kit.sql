-- Tables every Homeward service keeps: the transactional outbox, the hash-chained audit log
-- and the record of handled request ids.

CREATE TABLE outbox (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id       TEXT NOT NULL,
    event_type     TEXT NOT NULL,
    aggregate_id   TEXT NOT NULL,
    payload_type   TEXT NOT NULL,
    payload        BLOB NOT NULL,
    traceparent    TEXT NOT NULL DEFAULT '',
    occurred_at_us BIGINT NOT NULL
);

-- Stream positions, given after commit by the sequencer in commit order (see outbox.rs). They
-- live in narrow tables of their own so that sequencing never rewrites the wide event rows.
CREATE TABLE outbox_pending (
    outbox_id INTEGER PRIMARY KEY
);
CREATE TABLE outbox_positions (
    position  INTEGER PRIMARY KEY,
    outbox_id INTEGER NOT NULL
);
CREATE TRIGGER outbox_pending_on_insert AFTER INSERT ON outbox
BEGIN
    INSERT INTO outbox_pending (outbox_id) VALUES (NEW.id);
END;

CREATE TABLE audit_log (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
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
    audit_id INTEGER PRIMARY KEY
);
CREATE TABLE audit_chain (
    sequence  INTEGER PRIMARY KEY,
    audit_id  INTEGER NOT NULL,
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL
);
CREATE TRIGGER audit_pending_on_insert AFTER INSERT ON audit_log
BEGIN
    INSERT INTO audit_pending (audit_id) VALUES (NEW.id);
END;

CREATE TABLE idempotency (
    scope         TEXT NOT NULL,
    request_id    TEXT NOT NULL,
    fingerprint   TEXT NOT NULL,
    response      BLOB NOT NULL,
    created_at_us BIGINT NOT NULL,
    PRIMARY KEY (scope, request_id)
);
