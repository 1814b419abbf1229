-- A file's own value is found through objects (type, vkey): object_hashes
-- keeps only its other hashes, one random index insert fewer per file.

-- +goose Up
DELETE FROM object_hashes WHERE EXISTS (
    SELECT 1 FROM objects o WHERE o.id = object_hashes.object_id AND o.vkey = object_hashes.hash);

-- +goose Down
INSERT INTO object_hashes (hash, object_id, algo)
    SELECT o.vkey, o.id, '' FROM objects o WHERE o.type = 'file'
    ON CONFLICT (hash, object_id) DO NOTHING;
