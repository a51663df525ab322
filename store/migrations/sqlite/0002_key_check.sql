-- A marker sealed with the secret key of the first process that started: a
-- process with another key refuses to start instead of sealing credentials
-- that the others cannot open.
CREATE TABLE key_check (
	id         INTEGER PRIMARY KEY CHECK (id = 1),
	ciphertext BLOB NOT NULL
);
