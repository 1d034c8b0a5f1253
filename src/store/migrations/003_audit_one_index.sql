-- 003_audit_one_index: audit keeps one index, (tenant_id, seq). Every
-- credential write appends an audit row, and each index is a B-tree whose
-- rightmost pages every group commit rewrites; audit_credential cost about a
-- sixth of the pages a commit writes (bench/README.md). `engage audit
-- --credential ID` now walks the tenant's trail in seq order through
-- audit_tenant and keeps that credential's rows: an operator's command, not
-- an API path, and about a second for a tenant of millions of records.
DROP INDEX audit_credential;
