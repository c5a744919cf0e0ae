-- Work that must run on one node at a time is done by the holder of its lease; a lease lapses
-- at expires_at unless its holder renews it.
CREATE TABLE leases (
    name TEXT NOT NULL PRIMARY KEY,
    holder TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
