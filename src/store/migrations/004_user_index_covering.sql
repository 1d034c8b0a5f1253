-- 004_user_index_covering: credentials_user carries every column of a
-- credential after its ordering columns, so a userId list (C20) reads its
-- rows from the index alone instead of one table lookup per credential.
-- Measured on a 1M-credential tenant (bench/README.md): userId lists 51k ->
-- 59-68k req/s; creates within their noise (50.0k -> 48.4k/s).
DROP INDEX credentials_user;
CREATE INDEX credentials_user ON credentials (tenant_id, user_id, created_at,
    credential_id, user_email, user_name, access_profile, valid_from,
    valid_to, revoked_at);
