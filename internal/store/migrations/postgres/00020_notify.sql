-- Notifications (issue 18 §2). notify_destinations is the admin's
-- allow-list of webhook hosts; notify_rules say which events go where (the
-- webhook URL and the signing secret sealed, with the rule's id as
-- additional data); outbox holds events, written in the transaction of the
-- change that caused them; notify_deliveries is an event's delivery to one
-- rule, made when the event is dispatched, with its idempotency key, its
-- body and how its attempts went.

-- +goose Up
CREATE TABLE notify_destinations (
    id         BIGSERIAL PRIMARY KEY,
    pattern    TEXT    NOT NULL UNIQUE,
    created_by TEXT    NOT NULL,
    created_at BIGINT  NOT NULL
);

CREATE TABLE notify_rules (
    id            BIGSERIAL PRIMARY KEY,
    name          TEXT    NOT NULL,
    name_key      TEXT    NOT NULL UNIQUE,
    event         TEXT    NOT NULL,
    url_sealed    BYTEA,
    url_hint      TEXT    NOT NULL,
    host          TEXT    NOT NULL,
    secret_sealed BYTEA,
    format        TEXT    NOT NULL,
    filters       TEXT    NOT NULL,
    max_tlp       TEXT    NOT NULL,
    created_by    TEXT    NOT NULL,
    created_at    BIGINT  NOT NULL
);
CREATE INDEX notify_rules_event ON notify_rules (event);

CREATE TABLE outbox (
    id            BIGSERIAL PRIMARY KEY,
    kind          TEXT    NOT NULL,
    subject_id    BIGINT  NOT NULL,
    data          TEXT    NOT NULL,
    created_at    BIGINT  NOT NULL,
    dispatched_at BIGINT
);
CREATE INDEX outbox_pending ON outbox (id) WHERE dispatched_at IS NULL;

CREATE TABLE notify_deliveries (
    id            BIGSERIAL PRIMARY KEY,
    key           TEXT    NOT NULL UNIQUE,
    event_id      BIGINT  NOT NULL REFERENCES outbox (id) ON DELETE CASCADE,
    rule_id       BIGINT  NOT NULL REFERENCES notify_rules (id) ON DELETE CASCADE,
    kind          TEXT    NOT NULL,
    body          TEXT    NOT NULL,
    state         TEXT    NOT NULL,
    attempts      BIGINT  NOT NULL DEFAULT 0,
    next_at       BIGINT  NOT NULL,
    claimed_until BIGINT  NOT NULL DEFAULT 0,
    holder        TEXT    NOT NULL DEFAULT '',
    last_status   BIGINT  NOT NULL DEFAULT 0,
    last_error    TEXT    NOT NULL DEFAULT '',
    created_at    BIGINT  NOT NULL,
    updated_at    BIGINT  NOT NULL,
    delivered_at  BIGINT,
    UNIQUE (event_id, rule_id)
);
CREATE INDEX notify_deliveries_due ON notify_deliveries (state, next_at);
CREATE INDEX notify_deliveries_rule ON notify_deliveries (rule_id, id);

-- +goose Down
DROP TABLE notify_deliveries;
DROP TABLE outbox;
DROP TABLE notify_rules;
DROP TABLE notify_destinations;
