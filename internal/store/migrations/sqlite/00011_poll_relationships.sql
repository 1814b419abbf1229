-- A poll's record says how many relationships between objects it made.

-- +goose Up
ALTER TABLE polls ADD COLUMN relationships INTEGER NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE polls DROP COLUMN relationships;
