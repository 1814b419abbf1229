-- The Flashpoint vulnerability records each channel has stored, for each
-- object they reported, with when each record was first and last changed:
-- a poll fetches a record's detail only when the record is new or changed
-- since, and an object names every record that reported it (several
-- records may report one CVE id), each as its own source. And a poll's
-- record says how many items it listed and how many requests it made.

-- +goose Up
CREATE TABLE vulnerability_records (
    channel_id     BIGINT NOT NULL, -- removed with its instance (Store.DeleteInstance)
    flashpoint_id  BIGINT NOT NULL,
    object_id      BIGINT NOT NULL REFERENCES objects (id) ON DELETE CASCADE,
    first_reported BIGINT NOT NULL,
    last_reported  BIGINT NOT NULL,
    PRIMARY KEY (channel_id, flashpoint_id, object_id)
);
CREATE INDEX vulnerability_records_object ON vulnerability_records (object_id);
ALTER TABLE polls ADD COLUMN listed INTEGER NOT NULL DEFAULT 0;
ALTER TABLE polls ADD COLUMN requests INTEGER NOT NULL DEFAULT 0;

-- +goose Down
DROP TABLE vulnerability_records;
ALTER TABLE polls DROP COLUMN listed;
ALTER TABLE polls DROP COLUMN requests;
