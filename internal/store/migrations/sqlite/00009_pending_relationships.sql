-- Relationships a source made to an object not stored yet (an indicator's
-- related IOCs): kept by the missing end's type and key, and made when an
-- object of that key is stored.

-- +goose Up
CREATE TABLE pending_relationships (
    target_type TEXT NOT NULL,
    target_vkey TEXT NOT NULL,
    source_id   INTEGER NOT NULL REFERENCES objects (id) ON DELETE CASCADE,
    type        TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (target_type, target_vkey, source_id, type)
) WITHOUT ROWID;
CREATE INDEX pending_relationships_source ON pending_relationships (source_id);

-- +goose Down
DROP TABLE pending_relationships;
