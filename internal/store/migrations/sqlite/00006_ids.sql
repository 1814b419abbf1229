-- Channel and instance ids are never reused. SQLite gives a new row the
-- largest id plus one, so removing the newest instance handed its ids to the
-- next one, which then inherited the removed channels' cursors and
-- provenance. New ids now come from id_sequences, which starts above every
-- id any table still names; channel state left by removed channels goes.

-- +goose Up
CREATE TABLE id_sequences (
    name TEXT PRIMARY KEY,
    last INTEGER NOT NULL
);
INSERT INTO id_sequences (name, last) VALUES ('channels', max(
    COALESCE((SELECT max(id) FROM channels), 0),
    COALESCE((SELECT max(channel_id) FROM channel_state), 0),
    COALESCE((SELECT max(channel_id) FROM provenance), 0),
    COALESCE((SELECT max(channel_id) FROM polls), 0)));
INSERT INTO id_sequences (name, last) VALUES ('instances', COALESCE((SELECT max(id) FROM instances), 0));
DELETE FROM channel_state WHERE channel_id NOT IN (SELECT id FROM channels);

-- +goose Down
DROP TABLE id_sequences;
