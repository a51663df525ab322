-- Every process that runs jobs says it is alive here every few seconds, so
-- that another can hand the jobs of one that died back to the queue at
-- once instead of waiting for their timeout.
CREATE TABLE IF NOT EXISTS workers (
	id      TEXT PRIMARY KEY,
	beat_at BIGINT NOT NULL
);
