-- The registry's own tables. A person's full record is kept as JSON (the domain type); the
-- columns beside it are what queries filter, order and constrain on.

CREATE TABLE persons (
    seq              INTEGER PRIMARY KEY AUTOINCREMENT,
    id               TEXT NOT NULL UNIQUE,
    version          BIGINT NOT NULL,
    category         TEXT NOT NULL,
    status           TEXT NOT NULL,
    holding_party    TEXT NOT NULL,
    affiliated_party TEXT NOT NULL,
    file_reference   TEXT UNIQUE,
    search_keys      TEXT NOT NULL,
    record           TEXT NOT NULL,
    updated_at_us    BIGINT NOT NULL
);
CREATE INDEX persons_by_status ON persons (status, seq);
CREATE INDEX persons_by_holding_party ON persons (holding_party, seq);

CREATE TABLE status_history (
    person_id TEXT NOT NULL REFERENCES persons (id),
    sequence  BIGINT NOT NULL,
    record    TEXT NOT NULL,
    PRIMARY KEY (person_id, sequence)
);

-- One row per reserved person: the primary key is what guarantees that nobody is reserved for
-- two exchanges at once, whatever the callers check beforehand.
CREATE TABLE reservations (
    person_id      TEXT PRIMARY KEY REFERENCES persons (id),
    exchange_id    TEXT NOT NULL,
    reserved_at_us BIGINT NOT NULL
);
CREATE INDEX reservations_by_exchange ON reservations (exchange_id);
