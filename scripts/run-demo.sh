#!/bin/sh
# run-demo.sh - what `make run` does after building: serve ./engage.db on
# http://127.0.0.1:8080/engage, creating a demo tenant the first time.
#
# The first run (no store yet) creates the demo tenant and writes its
# subscription key, username and password to engage-demo.env (mode 0600,
# ignored by git); later runs print that file again. The store keeps only
# hashes of the secrets (C7).
set -eu
cd "$(dirname "$0")/.."
ENGAGE=${ENGAGE:-build/engage}
STORE=${ENGAGE_DEMO_STORE:-engage.db}
LISTEN=${ENGAGE_LISTEN:-127.0.0.1:8080}
ENVFILE=engage-demo.env

if [ ! -e "$STORE" ]; then
    json=$("$ENGAGE" --store "sqlite:$STORE" --json demo)
    umask 077
    printf '%s\n' "$json" | python3 -c '
import json, sys
d = json.load(sys.stdin)
print("ENGAGE_TENANT_ID=%s" % d["tenantId"])
print("ENGAGE_SUBSCRIPTION_KEY=%s" % d["subscriptionKey"])
print("ENGAGE_USERNAME=%s" % d["username"])
print("ENGAGE_PASSWORD=%s" % d["password"])
print("ENGAGE_ACCESS_PROFILES=%s" % ",".join(d["accessProfiles"]))
' > "$ENVFILE"
    chmod 600 "$ENVFILE"
    echo "Created the demo tenant in $STORE; its secrets are in $ENVFILE:"
elif [ -f "$ENVFILE" ]; then
    echo "Serving $STORE; the demo tenant's secrets ($ENVFILE):"
else
    echo "Serving $STORE (no $ENVFILE: the demo secrets were shown once when it was made)."
fi
if [ -f "$ENVFILE" ]; then
    sed 's/^/    /' "$ENVFILE"
    . "./$ENVFILE"
    echo
    echo "Try:"
    echo "    curl -s -H \"alle-subscription-key: $ENGAGE_SUBSCRIPTION_KEY\" \\"
    echo "         -u \"$ENGAGE_USERNAME:$ENGAGE_PASSWORD\" http://$LISTEN/engage/credentials"
    echo
fi
exec "$ENGAGE" --store "sqlite:$STORE" serve --listen "$LISTEN"
