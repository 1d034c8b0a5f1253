-- 002_lean_writes: fewer B-trees touched by each credential write.
-- credentials becomes a WITHOUT ROWID table keyed by (tenant_id,
-- credential_id): a point read descends one B-tree instead of an index and
-- then the table, and a create inserts into three B-trees instead of four.
-- audit loses AUTOINCREMENT (audit rows are never deleted, so seq never
-- repeats anyway), which spared a sqlite_sequence update per write.
CREATE TABLE credentials_v2 (
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
) WITHOUT ROWID;
INSERT INTO credentials_v2
    SELECT tenant_id, credential_id, user_id, user_email, user_name,
           access_profile, valid_from, valid_to, created_at, revoked_at
    FROM credentials;
DROP TABLE credentials;
ALTER TABLE credentials_v2 RENAME TO credentials;
CREATE INDEX credentials_order ON credentials (tenant_id, created_at, credential_id);
CREATE INDEX credentials_user ON credentials (tenant_id, user_id, created_at, credential_id);
CREATE TABLE audit_v2 (
    seq           INTEGER PRIMARY KEY,
    tenant_id     TEXT NOT NULL,
    time          INTEGER NOT NULL,
    action        TEXT NOT NULL,
    credential_id TEXT NOT NULL,
    key_id        TEXT NOT NULL,
    username      TEXT NOT NULL,
    request_id    TEXT NOT NULL
);
INSERT INTO audit_v2
    SELECT seq, tenant_id, time, action, credential_id, key_id, username,
           request_id
    FROM audit;
DROP TABLE audit;
ALTER TABLE audit_v2 RENAME TO audit;
CREATE INDEX audit_tenant ON audit (tenant_id, seq);
CREATE INDEX audit_credential ON audit (tenant_id, credential_id, seq);
