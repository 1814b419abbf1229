-- The order in which each collection received each version of its objects,
-- for TAXII's date_added and added_after. A page transaction stamps what it
-- added at its commit, under the lock of added_clock's row: stamps are
-- unique in a collection and increase in the order the transactions
-- commit, so a reader that asks for what came after the last stamp it saw
-- misses nothing, even when two writers commit out of the order they began.

-- +goose Up
CREATE TABLE added_log (
    collection_id INTEGER NOT NULL REFERENCES collections (id) ON DELETE CASCADE,
    added_at      INTEGER NOT NULL, -- µs; unique within the collection
    object_id     INTEGER NOT NULL REFERENCES objects (id) ON DELETE CASCADE,
    modified_at   INTEGER NOT NULL, -- the object's version: when it was written
    PRIMARY KEY (collection_id, added_at, object_id)
) WITHOUT ROWID;
CREATE INDEX added_log_object ON added_log (object_id, collection_id, added_at);
CREATE TABLE added_clock (id INTEGER PRIMARY KEY CHECK (id = 1), last INTEGER NOT NULL);
-- What the collections hold already, each member once, at the time it
-- joined; members that joined in one page get stamps a microsecond apart.
INSERT INTO added_log (collection_id, added_at, object_id, modified_at)
SELECT m.collection_id, m.added_at + ROW_NUMBER() OVER (PARTITION BY m.collection_id, m.added_at ORDER BY m.object_id) - 1,
       m.object_id, o.modified_at
FROM collection_objects m JOIN objects o ON o.id = m.object_id;
INSERT INTO added_clock (id, last) SELECT 1, COALESCE(max(added_at), 0) FROM added_log;

-- +goose Down
DROP TABLE added_clock;
DROP TABLE added_log;
