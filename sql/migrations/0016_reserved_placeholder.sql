-- PLACEHOLDER on branch obs only: number 0016 belongs to another branch (migrations must be
-- contiguous). Delete this file when merging; the other branch's 0016 replaces it.
SELECT 1;
