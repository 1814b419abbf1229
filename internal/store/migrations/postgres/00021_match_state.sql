-- Where matching the inventory stands (issue 18): the added log's stamp
-- up to which every vulnerability stored or changed has been matched
-- against the stored inventory. No row: never matched; the whole inventory
-- is matched first.

-- +goose Up
CREATE TABLE match_state (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    added_after BIGINT  NOT NULL
);

-- +goose Down
DROP TABLE match_state;
