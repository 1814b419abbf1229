-- Notifications (issue 18 §2). notify_destinations is the admin's
-- allow-list of webhook hosts; notify_rules say which events go where (the
-- webhook URL and the signing secret sealed, with the rule's id as
-- additional data); outbox holds events, written in the transaction of the
-- change that caused them; notify_deliveries is an event's delivery to one
-- rule, made when the event is dispatched, with its idempotency key, its
-- body and how its attempts went.

-- +goose Up
CREATE TABLE notify_destinations (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    pattern    TEXT    NOT NULL UNIQUE,
    created_by TEXT    NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE notify_rules (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    name          TEXT    NOT NULL,
    name_key      TEXT    NOT NULL UNIQUE,
    event         TEXT    NOT NULL,
    url_sealed    BLOB,
    url_hint      TEXT    NOT NULL,
    host          TEXT    NOT NULL,
    secret_sealed BLOB,
    format        TEXT    NOT NULL,
    filters       TEXT    NOT NULL,
    max_tlp       TEXT    NOT NULL,
    created_by    TEXT    NOT NULL,
    created_at    INTEGER NOT NULL
);
CREATE INDEX notify_rules_event ON notify_rules (event);

CREATE TABLE outbox (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    kind          TEXT    NOT NULL,
    subject_id    INTEGER NOT NULL,
    data          TEXT    NOT NULL,
    created_at    INTEGER NOT NULL,
    dispatched_at INTEGER
);
CREATE INDEX outbox_pending ON outbox (id) WHERE dispatched_at IS NULL;

CREATE TABLE notify_deliveries (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    key           TEXT    NOT NULL UNIQUE,
    event_id      INTEGER NOT NULL REFERENCES outbox (id) ON DELETE CASCADE,
    rule_id       INTEGER NOT NULL REFERENCES notify_rules (id) ON DELETE CASCADE,
    kind          TEXT    NOT NULL,
    body          TEXT    NOT NULL,
    state         TEXT    NOT NULL,
    attempts      INTEGER NOT NULL DEFAULT 0,
    next_at       INTEGER NOT NULL,
    claimed_until INTEGER NOT NULL DEFAULT 0,
    holder        TEXT    NOT NULL DEFAULT '',
    last_status   INTEGER NOT NULL DEFAULT 0,
    last_error    TEXT    NOT NULL DEFAULT '',
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    delivered_at  INTEGER,
    UNIQUE (event_id, rule_id)
);
CREATE INDEX notify_deliveries_due ON notify_deliveries (state, next_at);
CREATE INDEX notify_deliveries_rule ON notify_deliveries (rule_id, id);

-- +goose Down
DROP TABLE notify_deliveries;
DROP TABLE outbox;
DROP TABLE notify_rules;
DROP TABLE notify_destinations;
