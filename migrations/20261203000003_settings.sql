-- Facts about the installation itself, such as the check value that tells
-- whether the configured deterministic key is the one the stored backup-code
-- digests were made with.
CREATE TABLE settings (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
