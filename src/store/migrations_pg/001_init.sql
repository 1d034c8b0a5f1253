-- 001_init (PostgreSQL): the schema of migrations/001_init.sql for the
-- PostgreSQL store. tenant_id leads every key and index, so each table but
-- the small global ones (tenants, auth_generation, api_keys) can be
-- distributed by tenant (docs/scaling.md). Times are BIGINT milliseconds
-- since 1970-01-01 UTC. Ids, names and every text compared or ordered on are
-- COLLATE "C": byte order, as SQLite's BINARY, whatever the database locale.
CREATE TABLE tenants (
    tenant_id  TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    name       TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
-- Bumped (in the same transaction) by every key or account change (C8);
-- every node polls it.
CREATE TABLE auth_generation (
    id  INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    gen BIGINT NOT NULL
);
INSERT INTO auth_generation (id, gen) VALUES (1, 0);
CREATE TABLE api_keys (
    tenant_id  TEXT COLLATE "C" NOT NULL REFERENCES tenants (tenant_id),
    key_id     TEXT COLLATE "C" NOT NULL,
    key_hash   BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT,
    PRIMARY KEY (tenant_id, key_id)
);
-- The one lookup that comes before the tenant is known: a presented key.
CREATE UNIQUE INDEX api_keys_hash ON api_keys (key_hash);
CREATE UNIQUE INDEX api_keys_id ON api_keys (key_id);
CREATE TABLE accounts (
    tenant_id  TEXT COLLATE "C" NOT NULL REFERENCES tenants (tenant_id),
    username   TEXT COLLATE "C" NOT NULL,
    pwhash     TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, username)
);
CREATE TABLE access_profiles (
    tenant_id  TEXT COLLATE "C" NOT NULL REFERENCES tenants (tenant_id),
    profile_id TEXT COLLATE "C" NOT NULL,
    name       TEXT,
    PRIMARY KEY (tenant_id, profile_id)
);
CREATE TABLE devices (
    tenant_id        TEXT COLLATE "C" NOT NULL REFERENCES tenants (tenant_id),
    device_id        TEXT COLLATE "C" NOT NULL,
    name             TEXT COLLATE "C" NOT NULL,
    model            TEXT NOT NULL,
    firmware_version TEXT,
    site_id          TEXT,
    PRIMARY KEY (tenant_id, device_id)
);
CREATE INDEX devices_order ON devices (tenant_id, name, device_id);
CREATE TABLE credentials (
    tenant_id      TEXT COLLATE "C" NOT NULL REFERENCES tenants (tenant_id),
    credential_id  TEXT COLLATE "C" NOT NULL,
    user_id        TEXT COLLATE "C" NOT NULL,
    user_email     TEXT,
    user_name      TEXT,
    access_profile TEXT COLLATE "C" NOT NULL,
    valid_from     BIGINT NOT NULL,
    valid_to       BIGINT,
    created_at     BIGINT NOT NULL,
    revoked_at     BIGINT,
    PRIMARY KEY (tenant_id, credential_id)
);
CREATE INDEX credentials_order ON credentials (tenant_id, created_at, credential_id);
CREATE INDEX credentials_user ON credentials (tenant_id, user_id, created_at, credential_id);
-- seq orders the trail; it is taken when a row is written, so among
-- transactions that commit concurrently a later seq may become visible first.
CREATE TABLE audit (
    seq           BIGINT GENERATED ALWAYS AS IDENTITY,
    tenant_id     TEXT COLLATE "C" NOT NULL,
    time          BIGINT NOT NULL,
    action        TEXT NOT NULL,
    credential_id TEXT COLLATE "C" NOT NULL,
    key_id        TEXT NOT NULL,
    username      TEXT NOT NULL,
    request_id    TEXT NOT NULL,
    PRIMARY KEY (tenant_id, seq)
);
CREATE INDEX audit_credential ON audit (tenant_id, credential_id, seq);
-- Idempotent create (C22): the first 201 of a key, replayed byte for byte.
CREATE TABLE idempotency (
    tenant_id     TEXT COLLATE "C" NOT NULL REFERENCES tenants (tenant_id),
    idem_key      TEXT COLLATE "C" NOT NULL,
    body_hash     BYTEA NOT NULL,
    credential_id TEXT COLLATE "C" NOT NULL,
    response      BYTEA NOT NULL,
    created_at    BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, idem_key)
);
