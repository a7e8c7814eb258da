-- 0003: inject events name what triggered them (the blocked name and its surface) and how the
-- outcome was decided. ADD COLUMN has no IF NOT EXISTS on 18.x: the migration runner skips an
-- ADD COLUMN whose column exists, so a half-applied migration can run again.

ALTER TABLE ${DB}.inject ADD COLUMN inject_name String AFTER inject_kind;
ALTER TABLE ${DB}.inject ADD COLUMN inject_surface ${LC} AFTER inject_name;
ALTER TABLE ${DB}.inject ADD COLUMN inject_outcome_reason ${LC} AFTER inject_outcome;
