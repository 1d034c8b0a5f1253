-- 001_init: the first schema. tenant_id leads every key and index.
-- Times are INTEGER milliseconds since 1970-01-01 UTC.
CREATE TABLE tenants (
    tenant_id  TEXT NOT NULL PRIMARY KEY,
    name       TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
-- Bumped (in the same transaction) by every key or account change (C8).
CREATE TABLE auth_generation (
    id  INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    gen INTEGER NOT NULL
);
INSERT INTO auth_generation (id, gen) VALUES (1, 0);
CREATE TABLE api_keys (
    tenant_id  TEXT NOT NULL REFERENCES tenants (tenant_id),
    key_id     TEXT NOT NULL,
    key_hash   BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER,
    PRIMARY KEY (tenant_id, key_id)
);
-- The one lookup that comes before the tenant is known: a presented key.
CREATE UNIQUE INDEX api_keys_hash ON api_keys (key_hash);
CREATE UNIQUE INDEX api_keys_id ON api_keys (key_id);
CREATE TABLE accounts (
    tenant_id  TEXT NOT NULL REFERENCES tenants (tenant_id),
    username   TEXT NOT NULL,
    pwhash     TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, username)
);
CREATE TABLE access_profiles (
    tenant_id  TEXT NOT NULL REFERENCES tenants (tenant_id),
    profile_id TEXT NOT NULL,
    name       TEXT,
    PRIMARY KEY (tenant_id, profile_id)
);
CREATE TABLE devices (
    tenant_id        TEXT NOT NULL REFERENCES tenants (tenant_id),
    device_id        TEXT NOT NULL,
    name             TEXT NOT NULL,
    model            TEXT NOT NULL,
    firmware_version TEXT,
    site_id          TEXT,
    PRIMARY KEY (tenant_id, device_id)
);
CREATE INDEX devices_order ON devices (tenant_id, name, device_id);
CREATE TABLE credentials (
    tenant_id      TEXT NOT NULL REFERENCES tenants (tenant_id),
    credential_id  TEXT NOT NULL,
    user_id        TEXT NOT NULL,
    user_email     TEXT,
    user_name      TEXT,
    access_profile TEXT NOT NULL,
    valid_from     INTEGER NOT NULL,
    valid_to       INTEGER,
    created_at     INTEGER NOT NULL,
    revoked_at     INTEGER,
    PRIMARY KEY (tenant_id, credential_id)
);
CREATE INDEX credentials_order ON credentials (tenant_id, created_at, credential_id);
CREATE INDEX credentials_user ON credentials (tenant_id, user_id, created_at, credential_id);
CREATE TABLE audit (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id     TEXT NOT NULL,
    time          INTEGER NOT NULL,
    action        TEXT NOT NULL,
    credential_id TEXT NOT NULL,
    key_id        TEXT NOT NULL,
    username      TEXT NOT NULL,
    request_id    TEXT NOT NULL
);
CREATE INDEX audit_tenant ON audit (tenant_id, seq);
CREATE INDEX audit_credential ON audit (tenant_id, credential_id, seq);
-- Idempotent create (C22): the first 201 of a key, replayed byte for byte.
CREATE TABLE idempotency (
    tenant_id     TEXT NOT NULL REFERENCES tenants (tenant_id),
    idem_key      TEXT NOT NULL,
    body_hash     BLOB NOT NULL,
    credential_id TEXT NOT NULL,
    response      BLOB NOT NULL,
    created_at    INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, idem_key)
);
