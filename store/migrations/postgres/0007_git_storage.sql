-- Which storage each process keeps the built-in Git server's repositories
-- on (a random ID in a file of its Git root; '' for none), so that a
-- process on other storage than its live peers is refused at start.
ALTER TABLE workers ADD COLUMN git_storage TEXT NOT NULL DEFAULT '';
