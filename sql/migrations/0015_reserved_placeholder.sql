-- PLACEHOLDER on branch obs only: number 0015 belongs to another branch (migrations must be
-- contiguous). Delete this file when merging; the other branch's 0015 replaces it.
SELECT 1;
