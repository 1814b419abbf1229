-- Feed sources: Flashpoint Ignite instances, their channels and every poll.

-- +goose Up
CREATE TABLE instances (
    id           BIGSERIAL PRIMARY KEY,
    name         TEXT    NOT NULL,
    name_key     TEXT    NOT NULL UNIQUE, -- lower(name): unique case-insensitively
    base_url     TEXT    NOT NULL,
    verify_tls   INTEGER NOT NULL DEFAULT 1,
    token_sealed BYTEA,                   -- XChaCha20-Poly1305, the instance id as additional data
    token_hint   TEXT    NOT NULL DEFAULT '',
    created_at   BIGINT  NOT NULL,
    updated_at   BIGINT  NOT NULL
);

CREATE TABLE channels (
    id          BIGSERIAL PRIMARY KEY,
    instance_id BIGINT  NOT NULL REFERENCES instances (id) ON DELETE CASCADE,
    kind        TEXT    NOT NULL,
    settings    TEXT    NOT NULL, -- feed.Settings as JSON
    health      TEXT    NOT NULL, -- feed.Health as JSON
    next_run_at BIGINT,           -- when a scheduled poll or restore attempt is due; NULL: none
    created_at  BIGINT  NOT NULL,
    updated_at  BIGINT  NOT NULL,
    UNIQUE (instance_id, kind)
);
CREATE INDEX channels_next_run ON channels (next_run_at);

CREATE TABLE polls (
    id            BIGSERIAL PRIMARY KEY,
    channel_id    BIGINT  NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    trigger       TEXT    NOT NULL,
    holder        TEXT    NOT NULL,
    started_at    BIGINT  NOT NULL,
    ended_at      BIGINT, 
    pages         INTEGER NOT NULL DEFAULT 0,
    new           INTEGER NOT NULL DEFAULT 0,
    updated       INTEGER NOT NULL DEFAULT 0,
    unchanged     INTEGER NOT NULL DEFAULT 0,
    filtered      INTEGER NOT NULL DEFAULT 0,
    invalid       INTEGER NOT NULL DEFAULT 0,
    unsupported   INTEGER NOT NULL DEFAULT 0,
    cursor_before TEXT    NOT NULL DEFAULT '',
    cursor_after  TEXT    NOT NULL DEFAULT '',
    outcome       TEXT    NOT NULL,
    error_code    TEXT    NOT NULL DEFAULT '',
    error_message TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX polls_channel ON polls (channel_id, id);

-- +goose Down
DROP TABLE polls;
DROP TABLE channels;
DROP TABLE instances;
