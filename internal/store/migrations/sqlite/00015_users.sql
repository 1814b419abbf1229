-- The console's users and their sessions. A password is kept as its
-- argon2id hash (PHC string); a session as the SHA-256 of its cookie, so a
-- copy of the database opens no session. Failed sign-ins are counted per
-- user, to slow guessing across processes and restarts.

-- +goose Up
CREATE TABLE users (
    id          INTEGER PRIMARY KEY,
    name        TEXT    NOT NULL,
    name_key    TEXT    NOT NULL UNIQUE,
    role        TEXT    NOT NULL,
    max_tlp     TEXT    NOT NULL DEFAULT '',
    password    TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    created_by  TEXT    NOT NULL DEFAULT '',
    password_at INTEGER NOT NULL,
    failures    INTEGER NOT NULL DEFAULT 0, -- failed sign-ins since the last success
    failed_at   INTEGER                     -- the last failed sign-in
);
CREATE TABLE sessions (
    hash       TEXT    PRIMARY KEY, -- SHA-256 of the cookie's value, hex
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf       TEXT    NOT NULL,    -- the token every form of the session carries
    created_at INTEGER NOT NULL,
    seen_at    INTEGER NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);

-- +goose Down
DROP TABLE sessions;
DROP TABLE users;
