-- The vulnerability records each channel has stored, and when each was
-- last changed: a poll fetches a record's detail only when the record is
-- new or changed since. And a poll's record says how many items it listed
-- and how many requests it made.

-- +goose Up
CREATE TABLE vulnerability_records (
    channel_id    INTEGER NOT NULL, -- removed with its instance (Store.DeleteInstance)
    flashpoint_id INTEGER NOT NULL,
    last_reported INTEGER NOT NULL,
    PRIMARY KEY (channel_id, flashpoint_id)
) WITHOUT ROWID;
ALTER TABLE polls ADD COLUMN listed INTEGER NOT NULL DEFAULT 0;
ALTER TABLE polls ADD COLUMN requests INTEGER NOT NULL DEFAULT 0;

-- +goose Down
DROP TABLE vulnerability_records;
ALTER TABLE polls DROP COLUMN listed;
ALTER TABLE polls DROP COLUMN requests;
