-- Flint's STIX ids are UUIDv5 of an object's type and value: they cannot be
-- read back. TAXII's objects/{id} and match[id] find an object by one
-- through this index: the first 64 bits of each STIX id an object is
-- written as (its own, its observable's, its relationships'), mapped to the
-- object. It is filled behind the added log, per collection, up to the stamp
-- stix_keys_done records, outside the ingest path; a look-up catches its
-- collection up first. A key may name several objects (or a stale one): the
-- reader recomputes the ids of what it finds.

-- +goose Up
CREATE TABLE stix_keys (
    stix_key  bigint NOT NULL,
    object_id bigint NOT NULL,
    PRIMARY KEY (stix_key, object_id)
);
CREATE TABLE stix_keys_done (
    collection_id bigint PRIMARY KEY REFERENCES collections (id) ON DELETE CASCADE,
    last          bigint NOT NULL -- the added log's stamp indexed up to
);

-- +goose Down
DROP TABLE stix_keys_done;
DROP TABLE stix_keys;
