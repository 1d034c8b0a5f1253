#!/bin/sh
# inspector.sh - `engage mcp` driven by the official MCP client, the MCP
# Inspector CLI (@modelcontextprotocol/inspector, pinned in package.json),
# against a fresh demo store: tools/list, then tools/call of listCredentials,
# uploadCredential, getCredential of the id just made, a page of
# listCredentials (an integer argument), listEngageDevices, and a NotFound.
# The Inspector checks every structuredContent against the tool's
# outputSchema. Prints "inspector: N checks passed"; exits non-zero on the
# first failure.
#   ENGAGE_BIN=/abs/build/engage sh tests/mcp/inspector.sh
set -eu
cd "$(dirname "$0")/../.."
ENGAGE_BIN=${ENGAGE_BIN:-build/engage}
PY=${PYTHON:-/usr/bin/python3}

if [ ! -x node_modules/.bin/mcp-inspector ]; then
    echo "inspector: node_modules/.bin/mcp-inspector missing (npm ci)" >&2
    exit 1
fi
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
STORE="sqlite:$T/e.db"
"$ENGAGE_BIN" --store "$STORE" --json demo > "$T/demo.json"
field() { "$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$T/demo.json" "$1"; }
KEY=$(field subscriptionKey)
USERNAME=$(field username)
PASSWORD=$(field password)

# inspect OUT ARGS...: run the Inspector CLI against engage mcp, output to OUT.
inspect() {
    out=$1
    shift
    if ! timeout 120 npx --no-install @modelcontextprotocol/inspector --cli \
        -e "ENGAGE_SUBSCRIPTION_KEY=$KEY" -e "ENGAGE_USERNAME=$USERNAME" \
        -e "ENGAGE_PASSWORD=$PASSWORD" \
        "$ENGAGE_BIN" --store "$STORE" mcp "$@" > "$out" 2> "$out.err"; then
        echo "inspector: FAILED: $*" >&2
        cat "$out" "$out.err" >&2
        exit 1
    fi
}

# check OUT PYTHON-EXPR: the expression must hold of r, the JSON in OUT.
CHECKS=0
check() {
    if ! "$PY" -c '
import json, sys
r = json.load(open(sys.argv[1]))
sys.exit(0 if eval(sys.argv[2]) else 1)' "$1" "$2"; then
        echo "inspector: FAILED: $2 of:" >&2
        cat "$1" >&2
        exit 1
    fi
    CHECKS=$((CHECKS + 1))
}

inspect "$T/list" --method tools/list
check "$T/list" 'sorted(t["name"] for t in r["tools"]) == ["deleteCredential", "getCredential", "listCredentials", "listEngageDevices", "uploadCredential"]'
check "$T/list" 'all(t["inputSchema"]["type"] == "object" and "outputSchema" in t for t in r["tools"])'

inspect "$T/creds" --method tools/call --tool-name listCredentials
check "$T/creds" 'r["isError"] is False and r["structuredContent"] == {"credentials": []}'

inspect "$T/up" --method tools/call --tool-name uploadCredential \
    --tool-arg userId=inspector-user --tool-arg accessProfile=staff \
    --tool-arg validTo=2035-01-01T00:00:00Z
check "$T/up" 'r["isError"] is False and r["structuredContent"]["status"] == "Active"'
ID=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["structuredContent"]["credentialId"])' "$T/up")

inspect "$T/get" --method tools/call --tool-name getCredential --tool-arg "credentialId=$ID"
check "$T/get" "r['isError'] is False and r['structuredContent']['credentialId'] == '$ID' and r['structuredContent']['userId'] == 'inspector-user'"
check "$T/get" 'json.loads(r["content"][0]["text"]) == r["structuredContent"]'

inspect "$T/creds2" --method tools/call --tool-name listCredentials
check "$T/creds2" "[c['credentialId'] for c in r['structuredContent']['credentials']] == ['$ID']"

inspect "$T/page" --method tools/call --tool-name listCredentials --tool-arg limit=1
check "$T/page" "[c['credentialId'] for c in r['structuredContent']['credentials']] == ['$ID'] and 'nextCursor' not in r['structuredContent']"

inspect "$T/devs" --method tools/call --tool-name listEngageDevices
check "$T/devs" 'r["isError"] is False and len(r["structuredContent"]["devices"]) == 3'

inspect "$T/missing" --method tools/call --tool-name getCredential --tool-arg credentialId=AAAAAAAAAAAAAAAAAAAAAA
check "$T/missing" 'r["isError"] is True and r["structuredContent"]["code"] == "NotFound"'

echo "inspector: $CHECKS checks passed"
