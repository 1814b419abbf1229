-- Exposures (issue 18): a vulnerability matching a row of the stored
-- inventory, with how and why it matched, when the match was first and
-- last seen, and its state: open, acknowledged, resolved (it no longer
-- matches: the version moved past the fix, or the vulnerability changed),
-- dismissed (by a person, with a reason).

-- +goose Up
CREATE TABLE exposures (
    id           BIGSERIAL PRIMARY KEY,
    asset_row    BIGINT  NOT NULL REFERENCES assets (id) ON DELETE CASCADE,
    vuln_id      BIGINT  NOT NULL REFERENCES objects (id) ON DELETE CASCADE,
    how          TEXT    NOT NULL,
    reason       TEXT    NOT NULL,
    state        TEXT    NOT NULL,
    state_reason TEXT    NOT NULL DEFAULT '',
    state_by     TEXT    NOT NULL DEFAULT '',
    first_seen   BIGINT  NOT NULL,
    last_seen    BIGINT  NOT NULL,
    state_at     BIGINT  NOT NULL,
    UNIQUE (asset_row, vuln_id)
);
CREATE INDEX exposures_vuln ON exposures (vuln_id);
CREATE INDEX exposures_state ON exposures (state, id);

-- +goose Down
DROP TABLE exposures;
