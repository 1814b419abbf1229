-- Flint's intel store, SQLite dialect. Times are Unix microseconds (UTC) in
-- INTEGER columns, NULL when unknown, so that one SQL text serves SQLite and
-- PostgreSQL.

-- +goose Up
CREATE TABLE collections (
    id         INTEGER PRIMARY KEY,
    name       TEXT    NOT NULL,
    name_key   TEXT    NOT NULL UNIQUE, -- lower(name): names are unique case-insensitively
    created_at INTEGER NOT NULL
);

CREATE TABLE objects (
    id          INTEGER PRIMARY KEY,
    type        TEXT    NOT NULL,
    vkey        TEXT    NOT NULL, -- the normalised value; for long values a prefix plus its SHA-256
    value       TEXT, -- the value when it differs from vkey (long values); else NULL
    name        TEXT    NOT NULL DEFAULT '',
    description TEXT    NOT NULL DEFAULT '',
    tlp         TEXT    NOT NULL,
    confidence  INTEGER NOT NULL,
    relevance   INTEGER,
    severity    INTEGER,
    score       TEXT    NOT NULL DEFAULT '',
    tags        TEXT    NOT NULL DEFAULT '[]', -- JSON array, sorted
    first_seen  INTEGER,
    last_seen   INTEGER,
    valid_from  INTEGER,
    valid_until INTEGER,
    data        TEXT    NOT NULL DEFAULT '{}', -- intel.Details as JSON
    created_at  INTEGER NOT NULL,
    modified_at INTEGER NOT NULL,
    UNIQUE (type, vkey)
);
CREATE INDEX objects_modified ON objects (modified_at, id);

-- Every hash of a file, so that a lookup by MD5 finds the file stored under its SHA-256.
CREATE TABLE object_hashes (
    hash      TEXT    NOT NULL,
    object_id INTEGER NOT NULL REFERENCES objects (id) ON DELETE CASCADE,
    algo      TEXT    NOT NULL,
    PRIMARY KEY (hash, object_id)
) WITHOUT ROWID;

CREATE TABLE provenance (
    object_id      INTEGER NOT NULL REFERENCES objects (id) ON DELETE CASCADE,
    channel_id     INTEGER NOT NULL,
    instance       TEXT    NOT NULL,
    channel        TEXT    NOT NULL,
    original_id    TEXT    NOT NULL DEFAULT '',
    first_reported INTEGER,
    last_reported  INTEGER,
    tlp            TEXT    NOT NULL,
    confidence     INTEGER NOT NULL,
    valid_until    INTEGER,
    digest         INTEGER, -- of the channel's last view, to skip unchanged re-reads
    PRIMARY KEY (object_id, channel_id)
) WITHOUT ROWID;
CREATE INDEX provenance_channel ON provenance (channel_id, object_id);

CREATE TABLE collection_objects (
    collection_id INTEGER NOT NULL REFERENCES collections (id) ON DELETE CASCADE,
    object_id     INTEGER NOT NULL REFERENCES objects (id) ON DELETE CASCADE,
    added_at      INTEGER NOT NULL,
    PRIMARY KEY (collection_id, object_id)
) WITHOUT ROWID;
-- No index on object_id alone: the collections are few, so an object's are found through the
-- primary key, one probe per collection, and every write saves a B-tree insert.

CREATE TABLE relationships (
    id         INTEGER PRIMARY KEY,
    source_id  INTEGER NOT NULL REFERENCES objects (id) ON DELETE CASCADE,
    type       TEXT    NOT NULL,
    target_id  INTEGER NOT NULL REFERENCES objects (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    UNIQUE (source_id, type, target_id)
);
CREATE INDEX relationships_target ON relationships (target_id);

-- Searchable vulnerability facts; the rest is in objects.data.
CREATE TABLE vulnerabilities (
    object_id        INTEGER PRIMARY KEY REFERENCES objects (id) ON DELETE CASCADE,
    flashpoint_id    INTEGER,
    cvss_v2          REAL,
    cvss_v3          REAL,
    cvss_v4          REAL,
    severity         TEXT NOT NULL DEFAULT '',
    epss             REAL,
    exploit_maturity TEXT NOT NULL DEFAULT '',
    published_at     INTEGER
);
CREATE INDEX vulnerabilities_fpid ON vulnerabilities (flashpoint_id);
CREATE INDEX vulnerabilities_cvss_v2 ON vulnerabilities (cvss_v2);
CREATE INDEX vulnerabilities_cvss_v3 ON vulnerabilities (cvss_v3);
CREATE INDEX vulnerabilities_cvss_v4 ON vulnerabilities (cvss_v4);
CREATE INDEX vulnerabilities_epss ON vulnerabilities (epss);

CREATE TABLE software (
    object_id  INTEGER PRIMARY KEY REFERENCES objects (id) ON DELETE CASCADE,
    vendor     TEXT NOT NULL,
    product    TEXT NOT NULL,
    vendor_lc  TEXT NOT NULL,
    product_lc TEXT NOT NULL
);

-- Where each channel is, and who may move it: the lease token fences commits.
CREATE TABLE channel_state (
    channel_id   INTEGER PRIMARY KEY,
    cursor       TEXT    NOT NULL DEFAULT '',
    lease_token  INTEGER NOT NULL DEFAULT 0,
    lease_holder TEXT    NOT NULL DEFAULT '',
    lease_until  INTEGER NOT NULL DEFAULT 0,
    updated_at   INTEGER NOT NULL DEFAULT 0
);

CREATE VIRTUAL TABLE objects_fts USING fts5(name, description, content='objects', content_rowid='id', tokenize='porter unicode61');

-- +goose StatementBegin
CREATE TRIGGER objects_fts_insert AFTER INSERT ON objects
WHEN new.name <> '' OR new.description <> '' BEGIN
    INSERT INTO objects_fts (rowid, name, description) VALUES (new.id, new.name, new.description);
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER objects_fts_delete AFTER DELETE ON objects
WHEN old.name <> '' OR old.description <> '' BEGIN
    INSERT INTO objects_fts (objects_fts, rowid, name, description) VALUES ('delete', old.id, old.name, old.description);
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER objects_fts_update AFTER UPDATE OF name, description ON objects
WHEN old.name <> new.name OR old.description <> new.description BEGIN
    INSERT INTO objects_fts (objects_fts, rowid, name, description)
        SELECT 'delete', old.id, old.name, old.description WHERE old.name <> '' OR old.description <> '';
    INSERT INTO objects_fts (rowid, name, description)
        SELECT new.id, new.name, new.description WHERE new.name <> '' OR new.description <> '';
END;
-- +goose StatementEnd

-- +goose Down
DROP TABLE objects_fts;
DROP TABLE channel_state;
DROP TABLE software;
DROP TABLE vulnerabilities;
DROP TABLE relationships;
DROP TABLE collection_objects;
DROP TABLE provenance;
DROP TABLE object_hashes;
DROP TABLE objects;
DROP TABLE collections;
