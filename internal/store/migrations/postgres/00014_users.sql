-- The console's users and their sessions. A password is kept as its
-- argon2id hash (PHC string); a session as the SHA-256 of its cookie, so a
-- copy of the database opens no session. Failed sign-ins are counted per
-- user, to slow guessing across processes and restarts.

-- +goose Up
CREATE TABLE users (
    id          BIGSERIAL PRIMARY KEY,
    name        text    NOT NULL,
    name_key    text    NOT NULL UNIQUE,
    role        text    NOT NULL,
    max_tlp     text    NOT NULL DEFAULT '',
    password    text    NOT NULL,
    created_at  bigint  NOT NULL,
    created_by  text    NOT NULL DEFAULT '',
    password_at bigint  NOT NULL,
    failures    bigint  NOT NULL DEFAULT 0, -- failed sign-ins since the last success
    failed_at   bigint                      -- the last failed sign-in
);
CREATE TABLE sessions (
    hash       text    PRIMARY KEY, -- SHA-256 of the cookie's value, hex
    user_id    bigint  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf       text    NOT NULL,    -- the token every form of the session carries
    created_at bigint  NOT NULL,
    seen_at    bigint  NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);

-- +goose Down
DROP TABLE sessions;
DROP TABLE users;
