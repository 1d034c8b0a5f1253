-- 002_lean_writes: audit loses AUTOINCREMENT (audit rows are never deleted,
-- so seq never repeats anyway), which spares a sqlite_sequence update per
-- credential write. (credentials stays a rowid table: as WITHOUT ROWID its
-- point reads gained little and its lists, which reach each row through a
-- secondary index, lost a third of their speed: bench/README.md.)
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
