-- The stored inventory (issue 18): the rows of a CMDB, each an asset's
-- product, kept to be matched against every vulnerability stored or
-- changed. A row is known by its asset id and its product (vendor and
-- product, lower case; from the CPE when only that is given), so that an
-- import that moves a version updates the row instead of adding one.

-- +goose Up
CREATE TABLE assets (
    id          BIGSERIAL PRIMARY KEY,
    asset_id    TEXT    NOT NULL,
    name        TEXT    NOT NULL DEFAULT '',
    vendor      TEXT    NOT NULL DEFAULT '',
    product     TEXT    NOT NULL DEFAULT '',
    version     TEXT    NOT NULL DEFAULT '',
    cpe         TEXT    NOT NULL DEFAULT '',
    row_key     TEXT    NOT NULL UNIQUE, -- asset id, vendor and product, lower case
    created_at  BIGINT  NOT NULL,
    updated_at  BIGINT  NOT NULL
);
CREATE INDEX assets_asset ON assets (asset_id);

-- +goose Down
DROP TABLE assets;
