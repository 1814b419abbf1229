-- The full-text index of names and descriptions is kept by the store's
-- writer, not by triggers: an insert trigger into the FTS5 table, even one
-- whose WHEN clause is false, makes every multi-row insert into objects keep
-- a statement journal (a copy of each random index page it touches), which
-- cost a third of the time of writing new indicators, that have neither.
-- The delete trigger stays: the store never deletes objects, but an
-- operator might.

-- +goose Up
DROP TRIGGER objects_fts_insert;
DROP TRIGGER objects_fts_update;

-- +goose Down
-- +goose StatementBegin
CREATE TRIGGER objects_fts_insert AFTER INSERT ON objects
WHEN new.name <> '' OR new.description <> '' BEGIN
    INSERT INTO objects_fts (rowid, name, description) VALUES (new.id, new.name, new.description);
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
