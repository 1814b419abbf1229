-- Channel state left by removed channels goes (ids are never reused here:
-- they come from sequences).

-- +goose Up
DELETE FROM channel_state WHERE channel_id NOT IN (SELECT id FROM channels);

-- +goose Down
SELECT 1;
