-- Who is matching the inventory (issue 18): one matcher at a time across
-- processes and replicas, the lease renewed as it goes and lapsing when
-- its holder dies.

-- +goose Up
CREATE TABLE match_lease (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    holder      TEXT    NOT NULL,
    lease_until INTEGER NOT NULL
);
INSERT INTO match_lease (id, holder, lease_until) VALUES (1, '', 0);

-- +goose Down
DROP TABLE match_lease;
