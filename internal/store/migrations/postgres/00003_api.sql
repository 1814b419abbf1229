-- API keys and the audit trail.

-- +goose Up
CREATE TABLE api_keys (
    id           BIGSERIAL PRIMARY KEY,
    name         TEXT    NOT NULL,
    role         TEXT    NOT NULL,
    max_tlp      TEXT    NOT NULL DEFAULT '', -- '' : no cap
    prefix       TEXT    NOT NULL,            -- the key's first characters, to recognise it in lists
    hash         TEXT    NOT NULL UNIQUE,     -- SHA-256 of the whole key, hex; the key itself is never stored
    created_at   BIGINT  NOT NULL,
    created_by   TEXT    NOT NULL DEFAULT '',
    last_used_at BIGINT,
    revoked_at   BIGINT
);

CREATE TABLE audit (
    id     BIGSERIAL PRIMARY KEY,
    at     BIGINT  NOT NULL,
    actor  TEXT    NOT NULL, -- "key:<id> <name>" or "cli:<user>"
    action TEXT    NOT NULL, -- instance.create, channel.update, key.revoke, ...
    target TEXT    NOT NULL,
    detail TEXT    NOT NULL DEFAULT '{}' -- JSON: what changed; never a secret
);
CREATE INDEX audit_at ON audit (at, id);

-- +goose Down
DROP TABLE audit;
DROP TABLE api_keys;
