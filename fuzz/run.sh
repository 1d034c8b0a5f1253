#!/bin/sh
# run.sh - run the libFuzzer drivers of engage.
#   FUZZ_BIN_DIR=/abs/build/fuzz sh fuzz/run.sh SECONDS [DRIVER ...]
# For each driver (default: every build/fuzz/fuzz_* binary): replay every
# file of fuzz/regressions/DRIVER/ (inputs that once failed; each must pass),
# then fuzz for SECONDS from the seeds of fuzz/corpus/DRIVER/ and the corpus
# grown by earlier runs (build/fuzz-work/corpus/DRIVER/). Prints executions,
# wall and CPU time per driver, and each failure with its input. Exits 1 when
# any replay or fuzzing run failed. `make fuzz` and `make test` call it.
set -u
cd "$(dirname "$0")/.."
SECS=${1:-300}
[ $# -gt 0 ] && shift
BIN_DIR=${FUZZ_BIN_DIR:-$(pwd)/build/fuzz}
WORK=${FUZZ_WORK_DIR:-$(pwd)/build/fuzz-work}
drivers="$*"
if [ -z "$drivers" ]; then
    drivers=$(ls "$BIN_DIR" 2>/dev/null | sed -n 's/^fuzz_\([a-z_]*\)$/\1/p')
fi
if [ -z "$drivers" ]; then
    echo "fuzz: no fuzz_* binaries in $BIN_DIR (make fuzzers)" >&2
    exit 1
fi

# CPU seconds (user + system) of this shell's waited-for children so far
# in CPU (`times` in this shell itself, not in a subshell).
TIMES=$(mktemp)
cpu_children() {
    times >"$TIMES"
    CPU=$(sed -n 2p "$TIMES" | tr 'ms' '  ' |
        awk '{ printf "%.1f", $1 * 60 + $2 + $3 * 60 + $4 }')
}

# The drivers' temporary stores go here (tmpfs when there is one), removed
# at the end, also those of runs that ended in a crash.
STORES=$(mktemp -d /dev/shm/engage-fuzz-run-XXXXXX 2>/dev/null || mktemp -d)
trap 'rm -f "$TIMES"; rm -rf "$STORES"' EXIT
export TMPDIR="$STORES"

failed=0
for d in $drivers; do
    bin=$BIN_DIR/fuzz_$d
    if [ ! -x "$bin" ]; then
        echo "fuzz $d: no binary $bin" >&2
        failed=1
        continue
    fi
    case $d in
    request) maxlen=8192 ;;
    create_body) maxlen=16384 ;;
    *) maxlen=4096 ;;
    esac
    dict=""
    [ -f "fuzz/$d.dict" ] && dict="-dict=fuzz/$d.dict"
    rm -rf "$WORK/artifacts/$d"
    mkdir -p "$WORK/corpus/$d" "$WORK/artifacts/$d"
    log=$WORK/$d.log

    # 1. the regressions: every input that once failed, replayed
    nreg=0
    nregfail=0
    for f in $(find "fuzz/regressions/$d" -type f ! -name '.*' 2>/dev/null | sort); do
        nreg=$((nreg + 1))
        if ! timeout 120 "$bin" -runs=1 "$f" >"$log" 2>&1; then
            nregfail=$((nregfail + 1))
            echo "fuzz $d: FAILED regression $f:"
            grep -a -A14 -E '^==== |ERROR: [A-Za-z]+Sanitizer|runtime error:' "$log" |
                grep -av '^    #[0-9]' | head -n 30
        fi
    done
    echo "fuzz $d: $nreg regression inputs replayed, $nregfail failed"

    # 2. fuzzing
    cpu_children
    c0=$CPU
    t0=$(date +%s)
    # shellcheck disable=SC2086
    timeout $((SECS + 120)) "$bin" -max_total_time="$SECS" -timeout=30 \
        -rss_limit_mb=4096 -max_len="$maxlen" -print_final_stats=1 $dict \
        -artifact_prefix="$WORK/artifacts/$d/" \
        "$WORK/corpus/$d" "fuzz/corpus/$d" >"$log" 2>&1
    rc=$?
    t1=$(date +%s)
    cpu_children
    c1=$CPU
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
    corp=$(ls "$WORK/corpus/$d" | wc -l)
    cpu=$(awk -v a="$c0" -v b="$c1" 'BEGIN { printf "%.1f", b - a }')
    echo "fuzz $d: ${execs:-?} executions in $((t1 - t0)) s wall," \
        "$cpu s CPU (${rate:-?} exec/s), corpus $corp inputs, exit $rc"
    grep -a '^fuzz_request: ' "$log" | tail -n 1
    if [ "$rc" -ne 0 ]; then
        echo "fuzz $d: FAILED (exit $rc):"
        grep -a -A30 -E '^==== |ERROR: [A-Za-z]+Sanitizer|runtime error:|ERROR: libFuzzer' "$log" |
            grep -av '^    #[0-9]' | head -n 50
        for a in "$WORK/artifacts/$d"/*; do
            [ -f "$a" ] || continue
            echo "fuzz $d: failing input $a; keep it as a regression:"
            echo "    cp $a fuzz/regressions/$d/"
        done
    fi
    if [ "$rc" -ne 0 ] || [ "$nregfail" -ne 0 ]; then
        failed=1
    fi
done
exit $failed
