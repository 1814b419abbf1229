-- Rate limits shared by every process of a store (store/rate.go): the
-- theoretical arrival time (µs) of the next request of each limited key
-- (GCRA). PostgreSQL replicas share them; a SQLite store, which one process
-- serves, keeps its limits in memory and leaves this table empty.

-- +goose Up
CREATE TABLE rate_slots (
    key TEXT PRIMARY KEY,
    tat BIGINT NOT NULL
);

-- +goose Down
DROP TABLE rate_slots;
