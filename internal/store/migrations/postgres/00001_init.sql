-- Flint's intel store, PostgreSQL dialect. The same shape as the SQLite one:
-- times are Unix microseconds (UTC) in BIGINT columns so that one SQL text
-- serves both. vkey uses the C collation so that prefix ranges are byte ranges.

-- +goose Up
CREATE TABLE collections (
    id         BIGSERIAL PRIMARY KEY,
    name       TEXT   NOT NULL,
    name_key   TEXT   NOT NULL UNIQUE,
    created_at BIGINT NOT NULL
);

CREATE TABLE objects (
    id          BIGSERIAL PRIMARY KEY,
    type        TEXT   NOT NULL,
    vkey        TEXT   COLLATE "C" NOT NULL,
    value       TEXT, -- the value when it differs from vkey (long values); else NULL
    name        TEXT   NOT NULL DEFAULT '',
    description TEXT   NOT NULL DEFAULT '',
    tlp         TEXT   NOT NULL,
    confidence  INTEGER NOT NULL,
    relevance   INTEGER,
    severity    INTEGER,
    score       TEXT   NOT NULL DEFAULT '',
    tags        TEXT   NOT NULL DEFAULT '[]',
    first_seen  BIGINT,
    last_seen   BIGINT,
    valid_from  BIGINT,
    valid_until BIGINT,
    data        TEXT   NOT NULL DEFAULT '{}',
    created_at  BIGINT NOT NULL,
    modified_at BIGINT NOT NULL,
    fts         tsvector GENERATED ALWAYS AS (CASE WHEN name = '' AND description = '' THEN NULL
                    ELSE to_tsvector('english', name || ' ' || description) END) STORED,
    UNIQUE (type, vkey)
);
CREATE INDEX objects_modified ON objects (modified_at, id);
CREATE INDEX objects_fts ON objects USING GIN (fts);

CREATE TABLE object_hashes (
    hash      TEXT   NOT NULL,
    object_id BIGINT NOT NULL REFERENCES objects (id) ON DELETE CASCADE,
    algo      TEXT   NOT NULL,
    PRIMARY KEY (hash, object_id)
);

CREATE TABLE provenance (
    object_id      BIGINT  NOT NULL REFERENCES objects (id) ON DELETE CASCADE,
    channel_id     BIGINT  NOT NULL,
    instance       TEXT    NOT NULL,
    channel        TEXT    NOT NULL,
    original_id    TEXT    NOT NULL DEFAULT '',
    first_reported BIGINT,
    last_reported  BIGINT,
    tlp            TEXT    NOT NULL,
    confidence     INTEGER NOT NULL,
    valid_until    BIGINT,
    digest         BIGINT, -- of the channel's last view, to skip unchanged re-reads
    PRIMARY KEY (object_id, channel_id)
);
CREATE INDEX provenance_channel ON provenance (channel_id, object_id);

CREATE TABLE collection_objects (
    collection_id BIGINT NOT NULL REFERENCES collections (id) ON DELETE CASCADE,
    object_id     BIGINT NOT NULL REFERENCES objects (id) ON DELETE CASCADE,
    added_at      BIGINT NOT NULL,
    PRIMARY KEY (collection_id, object_id)
);
-- No index on object_id alone: the collections are few, so an object's are found through the
-- primary key, one probe per collection, and every write saves a B-tree insert.

CREATE TABLE relationships (
    id         BIGSERIAL PRIMARY KEY,
    source_id  BIGINT NOT NULL REFERENCES objects (id) ON DELETE CASCADE,
    type       TEXT   NOT NULL,
    target_id  BIGINT NOT NULL REFERENCES objects (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    UNIQUE (source_id, type, target_id)
);
CREATE INDEX relationships_target ON relationships (target_id);

CREATE TABLE vulnerabilities (
    object_id        BIGINT PRIMARY KEY REFERENCES objects (id) ON DELETE CASCADE,
    flashpoint_id    BIGINT,
    cvss_v2          DOUBLE PRECISION,
    cvss_v3          DOUBLE PRECISION,
    cvss_v4          DOUBLE PRECISION,
    severity         TEXT NOT NULL DEFAULT '',
    epss             DOUBLE PRECISION,
    exploit_maturity TEXT NOT NULL DEFAULT '',
    published_at     BIGINT
);
CREATE INDEX vulnerabilities_fpid ON vulnerabilities (flashpoint_id);
CREATE INDEX vulnerabilities_cvss_v2 ON vulnerabilities (cvss_v2);
CREATE INDEX vulnerabilities_cvss_v3 ON vulnerabilities (cvss_v3);
CREATE INDEX vulnerabilities_cvss_v4 ON vulnerabilities (cvss_v4);
CREATE INDEX vulnerabilities_epss ON vulnerabilities (epss);

CREATE TABLE software (
    object_id  BIGINT PRIMARY KEY REFERENCES objects (id) ON DELETE CASCADE,
    vendor     TEXT NOT NULL,
    product    TEXT NOT NULL,
    vendor_lc  TEXT NOT NULL,
    product_lc TEXT NOT NULL
);

CREATE TABLE channel_state (
    channel_id   BIGINT PRIMARY KEY,
    cursor       TEXT   NOT NULL DEFAULT '',
    lease_token  BIGINT NOT NULL DEFAULT 0,
    lease_holder TEXT   NOT NULL DEFAULT '',
    lease_until  BIGINT NOT NULL DEFAULT 0,
    updated_at   BIGINT NOT NULL DEFAULT 0
);

-- +goose Down
DROP TABLE channel_state;
DROP TABLE software;
DROP TABLE vulnerabilities;
DROP TABLE relationships;
DROP TABLE collection_objects;
DROP TABLE provenance;
DROP TABLE object_hashes;
DROP TABLE objects;
DROP TABLE collections;
