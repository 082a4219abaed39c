-- The notification service's tables, all of the kit's record-store shape (homeward_kit::docs):
--   seq keyset order; id unique; parent the record it belongs to; tag the value lists filter on;
--   version for optimistic concurrency; record the JSON; due_us when a worker should look at it.
-- inquiries      parent: office,        tag: state
-- links          parent: inquiry id,    tag: registry person id
-- notifications  parent: inquiry id,    tag: state         (id derived from inquiry and event)
-- deliveries     parent: notification,  tag: state         (due_us: next attempt)
-- tasks          parent: inquiry id,    tag: state
-- cursors        id: the stream followed (registry, exchange)
-- handled        id: stream/event id: the record that makes each event take effect once
-- contacts       id: hash of a normalised contact address; which inquiries gave it
-- status_checks  id: hash of a reference; failed family status checks

CREATE TABLE inquiries (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, parent TEXT NOT NULL, tag TEXT NOT NULL,
    version INTEGER NOT NULL, record TEXT NOT NULL, due_us INTEGER
);
CREATE INDEX inquiries_by_parent ON inquiries (parent, seq);
CREATE INDEX inquiries_by_parent_tag ON inquiries (parent, tag, seq);
CREATE INDEX inquiries_by_tag ON inquiries (tag, seq);
CREATE INDEX inquiries_due ON inquiries (due_us) WHERE due_us IS NOT NULL;

CREATE TABLE links (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, parent TEXT NOT NULL, tag TEXT NOT NULL,
    version INTEGER NOT NULL, record TEXT NOT NULL, due_us INTEGER
);
CREATE INDEX links_by_parent ON links (parent, seq);
CREATE INDEX links_by_parent_tag ON links (parent, tag, seq);
CREATE INDEX links_by_tag ON links (tag, seq);
CREATE INDEX links_due ON links (due_us) WHERE due_us IS NOT NULL;

CREATE TABLE notifications (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, parent TEXT NOT NULL, tag TEXT NOT NULL,
    version INTEGER NOT NULL, record TEXT NOT NULL, due_us INTEGER
);
CREATE INDEX notifications_by_parent ON notifications (parent, seq);
CREATE INDEX notifications_by_parent_tag ON notifications (parent, tag, seq);
CREATE INDEX notifications_by_tag ON notifications (tag, seq);
CREATE INDEX notifications_due ON notifications (due_us) WHERE due_us IS NOT NULL;

CREATE TABLE deliveries (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, parent TEXT NOT NULL, tag TEXT NOT NULL,
    version INTEGER NOT NULL, record TEXT NOT NULL, due_us INTEGER
);
CREATE INDEX deliveries_by_parent ON deliveries (parent, seq);
CREATE INDEX deliveries_by_parent_tag ON deliveries (parent, tag, seq);
CREATE INDEX deliveries_by_tag ON deliveries (tag, seq);
CREATE INDEX deliveries_due ON deliveries (due_us) WHERE due_us IS NOT NULL;

CREATE TABLE tasks (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, parent TEXT NOT NULL, tag TEXT NOT NULL,
    version INTEGER NOT NULL, record TEXT NOT NULL, due_us INTEGER
);
CREATE INDEX tasks_by_parent ON tasks (parent, seq);
CREATE INDEX tasks_by_parent_tag ON tasks (parent, tag, seq);
CREATE INDEX tasks_by_tag ON tasks (tag, seq);
CREATE INDEX tasks_due ON tasks (due_us) WHERE due_us IS NOT NULL;

CREATE TABLE cursors (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, parent TEXT NOT NULL, tag TEXT NOT NULL,
    version INTEGER NOT NULL, record TEXT NOT NULL, due_us INTEGER
);
CREATE INDEX cursors_by_parent ON cursors (parent, seq);
CREATE INDEX cursors_by_parent_tag ON cursors (parent, tag, seq);
CREATE INDEX cursors_by_tag ON cursors (tag, seq);
CREATE INDEX cursors_due ON cursors (due_us) WHERE due_us IS NOT NULL;

CREATE TABLE handled (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, parent TEXT NOT NULL, tag TEXT NOT NULL,
    version INTEGER NOT NULL, record TEXT NOT NULL, due_us INTEGER
);
CREATE INDEX handled_by_parent ON handled (parent, seq);
CREATE INDEX handled_by_parent_tag ON handled (parent, tag, seq);
CREATE INDEX handled_by_tag ON handled (tag, seq);
CREATE INDEX handled_due ON handled (due_us) WHERE due_us IS NOT NULL;

CREATE TABLE contacts (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, parent TEXT NOT NULL, tag TEXT NOT NULL,
    version INTEGER NOT NULL, record TEXT NOT NULL, due_us INTEGER
);
CREATE INDEX contacts_by_parent ON contacts (parent, seq);
CREATE INDEX contacts_by_parent_tag ON contacts (parent, tag, seq);
CREATE INDEX contacts_by_tag ON contacts (tag, seq);
CREATE INDEX contacts_due ON contacts (due_us) WHERE due_us IS NOT NULL;

CREATE TABLE status_checks (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, parent TEXT NOT NULL, tag TEXT NOT NULL,
    version INTEGER NOT NULL, record TEXT NOT NULL, due_us INTEGER
);
CREATE INDEX status_checks_by_parent ON status_checks (parent, seq);
CREATE INDEX status_checks_by_parent_tag ON status_checks (parent, tag, seq);
CREATE INDEX status_checks_by_tag ON status_checks (tag, seq);
CREATE INDEX status_checks_due ON status_checks (due_us) WHERE due_us IS NOT NULL;
