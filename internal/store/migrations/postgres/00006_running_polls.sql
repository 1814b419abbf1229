-- Polls still marked running, found every scheduler tick without reading
-- the whole poll history.

-- +goose Up
CREATE INDEX polls_running ON polls (channel_id) WHERE outcome = 'running';

-- +goose Down
DROP INDEX polls_running;
