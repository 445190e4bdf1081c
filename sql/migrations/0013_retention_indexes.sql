-- Retention deletes workflows; their messages go with them (ON DELETE CASCADE), and the
-- cascade looks them up by destination: without an index on it every deleted workflow scanned
-- the whole notifications table (the unconsumed-only index does not serve consumed rows).
CREATE INDEX notifications_destination ON notifications (destination_uuid);
