#!/bin/sh
# run.sh - run every test stage of engage and print the totals.
#   ENGAGE_BIN=/abs/build/engage BUILD=build sh tests/run.sh
# Stages: the cmocka unit binaries in $BUILD/tests/, the black-box API tests
# (pytest), and the conformance run (the marked API tests through Prism);
# then, on a PostgreSQL server of its own (tests/pg/pg.sh, stopped on exit),
# the store unit tests and the API tests again, and the many-node and fault
# tests of tests/pg. PostgreSQL failing to start is a failure, never a skip.
# Also the hardening tests (tests/hardening), SIGKILL rounds (tests/crash)
# and, when FUZZ_BIN_DIR is set, each libFuzzer driver (fuzz/run.sh).
# Prints each stage's output and ends with exactly one line "N passed, N failed";
# exits non-zero when a test failed or a stage could not run (no tests is a failure).
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
ENGAGE_BIN=${ENGAGE_BIN:-$(pwd)/$BUILD/engage}
export ENGAGE_BIN
PY=${PYTHON:-/usr/bin/python3}
TIMEOUT=${TEST_TIMEOUT:-600}

PASSED=0
FAILED=0
STAGE_FAIL=0
OUT=$(mktemp)
PGDIR=""
cleanup() {
    rm -f "$OUT"
    if [ -n "$PGDIR" ]; then
        sh tests/pg/pg.sh stop "$PGDIR" >/dev/null 2>&1
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

stage_failed() {
    echo "run.sh: stage '$1' failed to run: $2" >&2
    STAGE_FAIL=1
    FAILED=$((FAILED + 1))
}

# ---- unit tests (cmocka): sum "[  PASSED  ] N test(s)." and "[  FAILED  ] N test(s)"
echo "==== unit tests ($BUILD/tests)"
nbins=0
for t in "$BUILD"/tests/*; do
    [ -f "$t" ] && [ -x "$t" ] || continue
    nbins=$((nbins + 1))
    echo "---- $t"
    CMOCKA_MESSAGE_OUTPUT=stdout timeout "$TIMEOUT" "$t" >"$OUT" 2>&1
    rc=$?
    cat "$OUT"
    p=$(sed -n 's/^\[  PASSED  \] \([0-9][0-9]*\) test(s)\..*/\1/p' "$OUT" | awk '{s+=$1} END {print s+0}')
    f=$(sed -n 's/^\[  FAILED  \] \([0-9][0-9]*\) test(s).*/\1/p' "$OUT" | awk '{s+=$1} END {print s+0}')
    PASSED=$((PASSED + p))
    FAILED=$((FAILED + f))
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        # crashed, timed out or failed without saying which test
        echo "run.sh: $t exited $rc without a failure summary" >&2
        FAILED=$((FAILED + 1))
    elif [ "$rc" -eq 0 ] && [ "$p" -eq 0 ]; then
        stage_failed "unit $t" "no test results"
    fi
done
[ "$nbins" -gt 0 ] || stage_failed unit "no unit test binaries in $BUILD/tests"

# ---- pytest stages: parse "N passed", "N failed", "N error(s)" from the summary line
run_pytest() {
    name=$1
    shift
    echo "==== $name"
    timeout "$TIMEOUT" "$@" >"$OUT" 2>&1
    rc=$?
    cat "$OUT"
    summary=$(grep -E '(passed|failed|error|no tests ran)' "$OUT" | grep -E ' in [0-9.]+s' | tail -n 1)
    p=$(echo "$summary" | sed -n 's/.*[^0-9]\([0-9][0-9]*\) passed.*/\1/p;s/^\([0-9][0-9]*\) passed.*/\1/p' | head -n 1)
    f=$(echo "$summary" | sed -n 's/.*[^0-9]\([0-9][0-9]*\) failed.*/\1/p;s/^\([0-9][0-9]*\) failed.*/\1/p' | head -n 1)
    e=$(echo "$summary" | sed -n 's/.*[^0-9]\([0-9][0-9]*\) error.*/\1/p;s/^\([0-9][0-9]*\) error.*/\1/p' | head -n 1)
    p=${p:-0}
    f=${f:-0}
    e=${e:-0}
    PASSED=$((PASSED + p))
    FAILED=$((FAILED + f + e))
    if [ "$rc" -ne 0 ] && [ "$((f + e))" -eq 0 ]; then
        stage_failed "$name" "pytest exited $rc (summary: ${summary:-none})"
    elif [ "$p" -eq 0 ] && [ "$((f + e))" -eq 0 ]; then
        stage_failed "$name" "no tests ran"
    fi
}

# ---- the spec as shipped passes redocly lint
echo "==== redocly lint docs/openapi.yaml"
if [ -x node_modules/.bin/redocly ]; then
    if node_modules/.bin/redocly lint docs/openapi.yaml; then
        PASSED=$((PASSED + 1))
    else
        FAILED=$((FAILED + 1))
    fi
else
    stage_failed lint "node_modules/.bin/redocly missing (npm ci)"
fi

if [ ! -x "$ENGAGE_BIN" ]; then
    stage_failed api "no engage binary at $ENGAGE_BIN"
else
    run_pytest "API tests (pytest)" \
        "$PY" -m pytest -q -p no:cacheprovider tests/api
    # The path a remote store takes (store calls on I/O workers, streamed
    # pages fetched while the connection is suspended), on SQLite.
    run_pytest "API tests, store calls on I/O workers (pytest)" \
        env ENGAGE_SERVE_ARGS="--io-threads 4" "$PY" -m pytest -q -p no:cacheprovider \
        tests/api/test_credentials_read.py tests/api/test_credentials_create.py \
        tests/api/test_extensions.py tests/api/test_integrator.py
    run_pytest "MCP tests (pytest)" \
        "$PY" -m pytest -q -p no:cacheprovider tests/mcp
    # Issue 5: limits, slow clients, graceful stop, rate limit, TLS, HTTP/2
    # through nginx, --user; then SIGKILL rounds (C27; CRASH_ROUNDS, 3 here).
    run_pytest "hardening tests (pytest)" "$PY" -m pytest -q -p no:cacheprovider tests/hardening
    run_pytest "crash tests, SIGKILL rounds (pytest)" \
        env CRASH_ROUNDS="${CRASH_ROUNDS:-3}" "$PY" -m pytest -q -s -p no:cacheprovider tests/crash
    if [ -x node_modules/.bin/prism ]; then
        # Against the spec as shipped (with engage's extensions) and against
        # the original, unchanged spec.
        for spec in docs/openapi.yaml docs/engage-credentialing-openapi.yml; do
            run_pytest "conformance (API tests through Prism, $spec)" \
                env ENGAGE_CONFORMANCE=1 ENGAGE_SPEC="$spec" \
                "$PY" -m pytest -q -p no:cacheprovider -m conformance tests/api
        done
    else
        stage_failed conformance "node_modules/.bin/prism missing (npm ci)"
    fi
fi

# ---- PostgreSQL: the same store unit tests and API tests on a server of our own
echo "==== PostgreSQL 15 for the tests (tests/pg/pg.sh)"
PGDIR=$(mktemp -d /tmp/engage-pg-XXXXXX)
if PGPORT=$(sh tests/pg/pg.sh start "$PGDIR"); then
    PGPORT=$(echo "$PGPORT" | tail -n 1)
    echo "PostgreSQL on 127.0.0.1:$PGPORT"
    echo "==== unit tests on PostgreSQL ($BUILD/tests/test_store)"
    if [ -x "$BUILD/tests/test_store" ]; then
        ENGAGE_TEST_STORE_URL="postgres://postgres@127.0.0.1:$PGPORT/postgres" \
            CMOCKA_MESSAGE_OUTPUT=stdout timeout "$TIMEOUT" "$BUILD/tests/test_store" >"$OUT" 2>&1
        rc=$?
        cat "$OUT"
        p=$(sed -n 's/^\[  PASSED  \] \([0-9][0-9]*\) test(s)\..*/\1/p' "$OUT" | awk '{s+=$1} END {print s+0}')
        f=$(sed -n 's/^\[  FAILED  \] \([0-9][0-9]*\) test(s).*/\1/p' "$OUT" | awk '{s+=$1} END {print s+0}')
        PASSED=$((PASSED + p))
        FAILED=$((FAILED + f))
        if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
            echo "run.sh: test_store on PostgreSQL exited $rc without a failure summary" >&2
            FAILED=$((FAILED + 1))
        elif [ "$p" -eq 0 ]; then
            stage_failed "unit tests on PostgreSQL" "no test results"
        fi
    else
        stage_failed "unit tests on PostgreSQL" "no $BUILD/tests/test_store"
    fi
    if [ -x "$ENGAGE_BIN" ]; then
        run_pytest "API tests on PostgreSQL (pytest)" \
            env ENGAGE_TEST_PG="127.0.0.1:$PGPORT" \
            "$PY" -m pytest -q -p no:cacheprovider tests/api
    fi
else
    stage_failed postgres "PostgreSQL did not start (tests/pg/pg.sh start)"
fi
sh tests/pg/pg.sh stop "$PGDIR" >/dev/null 2>&1
PGDIR=""
# two nodes on one database, and PostgreSQL stopped under them: these start
# (and stop) a server of their own
if [ -x "$ENGAGE_BIN" ]; then
    run_pytest "PostgreSQL: many nodes and faults (pytest tests/pg)" \
        "$PY" -m pytest -q -p no:cacheprovider tests/pg
fi

# ---- fuzzing (fuzz/run.sh): each libFuzzer driver replays its regressions
# and then fuzzes for FUZZ_SECONDS; one result per driver. Only when the
# Makefile built the drivers (FUZZ_BIN_DIR; not under SANITIZE=1).
if [ -n "${FUZZ_BIN_DIR:-}" ]; then
    for bin in "$FUZZ_BIN_DIR"/fuzz_*; do
        [ -x "$bin" ] || continue
        d=${bin##*/fuzz_}
        echo "==== fuzz $d (${FUZZ_SECONDS:-60} s)"
        if sh fuzz/run.sh "${FUZZ_SECONDS:-60}" "$d"; then
            PASSED=$((PASSED + 1))
        else
            FAILED=$((FAILED + 1))
        fi
    done
fi

echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ] && [ "$STAGE_FAIL" -eq 0 ]
