-- Retention purges objects. Deleting an object deletes its rows in every
-- table that names it (foreign keys with ON DELETE CASCADE), and each such
-- delete looks the object up in the child table: these two had no index on
-- object_id alone, so each purged object would scan them whole. stix_keys
-- has no foreign key (it is filled behind the added log) and is purged by
-- object_id too.

-- +goose Up
CREATE INDEX collection_objects_object ON collection_objects (object_id);
CREATE INDEX object_hashes_object ON object_hashes (object_id);
CREATE INDEX stix_keys_object ON stix_keys (object_id);

-- +goose Down
DROP INDEX stix_keys_object;
DROP INDEX object_hashes_object;
DROP INDEX collection_objects_object;
