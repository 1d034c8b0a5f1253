/*
 * mcp.h - the MCP (Model Context Protocol) front end: one tool per API
 * operation, served as newline-delimited JSON-RPC 2.0 on a pair of file
 * descriptors (stdin and stdout for `engage mcp`).
 *
 * A session is one tenant's: it authenticates once at start with a
 * subscription key and an account, through the same auth service as REST
 * (C6-C8), and every tool call runs as that principal, audited with its key
 * id and username (C28).
 */
#ifndef EG_MCP_MCP_H
#define EG_MCP_MCP_H

#include <stdio.h>

#include "store/store.h"

struct eg_mcp_config {
    const char *subscription_key; /* ENGAGE_SUBSCRIPTION_KEY */
    const char *username;         /* ENGAGE_USERNAME */
    const char *password;         /* ENGAGE_PASSWORD */
    unsigned auth_cache_ttl_s;    /* as serve's --auth-cache-ttl (C8) */
    int in_fd;                    /* where requests come from */
    FILE *out;                    /* where answers go, and nothing else */
};

/*
 * Authenticate with cfg's secrets on store, then serve MCP requests from
 * cfg->in_fd until it ends (or cfg->out cannot be written), answering on
 * cfg->out; logs go to stderr. Blocks for the whole session.
 *
 * Returns 0 after a session, EG_EUNAUTHORIZED when the secrets are refused
 * (nothing served; the reason is logged), or another EG_E* when the store
 * cannot be used. The caller keeps ownership of cfg's strings and of store.
 */
int eg_mcp_serve(struct eg_store *store, const struct eg_mcp_config *cfg);

#endif
