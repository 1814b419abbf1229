-- Blocklists (external dynamic lists) and the allow-list of values no
-- blocklist may carry, with the reserved ranges allowed from the start; an
-- API key may be bound to one list (a firewall's).

-- +goose Up
CREATE TABLE edl_lists (
    id                 INTEGER PRIMARY KEY,
    name               TEXT    NOT NULL UNIQUE,
    types              TEXT    NOT NULL,               -- JSON list of list types
    collection         TEXT    NOT NULL DEFAULT '',
    min_confidence     INTEGER NOT NULL DEFAULT 0,
    min_score          TEXT    NOT NULL DEFAULT '',
    max_tlp            TEXT    NOT NULL DEFAULT '',
    exclude_deprecated INTEGER NOT NULL DEFAULT 1,
    max_entries        INTEGER  NOT NULL DEFAULT 0,
    format             TEXT    NOT NULL DEFAULT 'plain',
    created_at         INTEGER  NOT NULL,
    updated_at         INTEGER  NOT NULL,
    created_by         TEXT    NOT NULL DEFAULT ''
);

CREATE TABLE allow_entries (
    id         INTEGER PRIMARY KEY,
    kind       TEXT    NOT NULL, -- value, cidr, domain
    value      TEXT    NOT NULL,
    note       TEXT    NOT NULL DEFAULT '',
    is_default INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER  NOT NULL,
    created_by TEXT    NOT NULL DEFAULT '',
    UNIQUE (kind, value)
);
INSERT INTO allow_entries (kind, value, note, is_default, created_at, created_by) VALUES
    ('cidr', '0.0.0.0/8', 'this network (RFC 791)', 1, 0, 'flint'),
    ('cidr', '10.0.0.0/8', 'private (RFC 1918)', 1, 0, 'flint'),
    ('cidr', '100.64.0.0/10', 'shared address space (RFC 6598)', 1, 0, 'flint'),
    ('cidr', '127.0.0.0/8', 'loopback', 1, 0, 'flint'),
    ('cidr', '169.254.0.0/16', 'link-local', 1, 0, 'flint'),
    ('cidr', '172.16.0.0/12', 'private (RFC 1918)', 1, 0, 'flint'),
    ('cidr', '192.0.2.0/24', 'documentation (RFC 5737)', 1, 0, 'flint'),
    ('cidr', '192.168.0.0/16', 'private (RFC 1918)', 1, 0, 'flint'),
    ('cidr', '198.18.0.0/15', 'benchmarking (RFC 2544)', 1, 0, 'flint'),
    ('cidr', '198.51.100.0/24', 'documentation (RFC 5737)', 1, 0, 'flint'),
    ('cidr', '203.0.113.0/24', 'documentation (RFC 5737)', 1, 0, 'flint'),
    ('cidr', '224.0.0.0/4', 'multicast', 1, 0, 'flint'),
    ('cidr', '240.0.0.0/4', 'reserved', 1, 0, 'flint'),
    ('cidr', '::1/128', 'loopback', 1, 0, 'flint'),
    ('cidr', 'fc00::/7', 'unique local (RFC 4193)', 1, 0, 'flint'),
    ('cidr', 'fe80::/10', 'link-local', 1, 0, 'flint'),
    ('cidr', '2001:db8::/32', 'documentation (RFC 3849)', 1, 0, 'flint'),
    ('cidr', 'ff00::/8', 'multicast', 1, 0, 'flint');

-- When the allow-list last changed (a blocklist's validator).
CREATE TABLE outlet_state (id INTEGER PRIMARY KEY CHECK (id = 1), allow_changed_at INTEGER NOT NULL);
INSERT INTO outlet_state VALUES (1, 0);

ALTER TABLE api_keys ADD COLUMN edl_list TEXT NOT NULL DEFAULT ''; -- '': not bound to a list

-- +goose Down
ALTER TABLE api_keys DROP COLUMN edl_list;
DROP TABLE outlet_state;
DROP TABLE allow_entries;
DROP TABLE edl_lists;
