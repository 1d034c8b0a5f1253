# bench/pg.sh — the PostgreSQL rows of `make bench` (issue 6). Sourced by
# bench/run.sh (bash), after the SQLite workloads; uses its helpers (log,
# die, wrk_run, parse_wrk, fresh_account, metric, free_port, R, ...).
#
# A throwaway PostgreSQL 15 (tests/pg/pg.sh, in a temp dir on the same disk
# as the SQLite stores), one database, `engage demo` and `engage seed`, then
# the point read, the userId list and the durable create against one node
# and against two nodes on the same database (two wrk of half the
# connections each, at once). PostgreSQL is stopped on exit (pg_cleanup,
# from run.sh's trap).
#
# Environment: BENCH_PG=0 skips it; BENCH_PG_N credentials in the tenant
# (default BENCH_SMALL, 100000; users N/3 so each has 3 credentials);
# PG_BIN as for tests/pg/pg.sh.

PG_DIR=
PG_PORT=
PG_URL=

pg_deps() {
    [ "${BENCH_PG:-1}" = 0 ] && return
    local bin=${PG_BIN:-/usr/lib/postgresql/15/bin} missing=()
    [ -x "$bin/initdb" ] || missing+=(postgresql-15)
    command -v psql >/dev/null || missing+=(postgresql-client-15)
    command -v python3 >/dev/null || missing+=(python3) # tests/pg/pg.sh's free port
    [ ${#missing[@]} = 0 ] || apt_install "${missing[@]}"
}

pg_cleanup() {
    if [ -n "$PG_DIR" ]; then
        sh "$REPO/tests/pg/pg.sh" stop "$PG_DIR" >/dev/null 2>&1
        PG_DIR=
    fi
}

pg_sql() { psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -X -Atq "$@"; }

# start_pg_node PORT: an `engage serve` on PG_URL; ENGAGE_PID
start_pg_node() {
    # shellcheck disable=SC2086
    "$ENGAGE" --store "$PG_URL" serve --listen "127.0.0.1:$1" $SERVE_ARGS \
        >>"$W/engage-pg-$1.log" 2>&1 &
    ENGAGE_PID=$!
    PIDS+=("$ENGAGE_PID")
    wait_http "http://127.0.0.1:$1/readyz" 30 ||
        { tail -20 "$W/engage-pg-$1.log" >&2; die "engage on PostgreSQL did not start on :$1"; }
}

# CPU time (clock ticks, all threads) of PostgreSQL's processes and of the
# given engage processes, and the machine's busy/total ticks, between
# pg_cpu_start and pg_cpu_end NAME: NAME.cpu_pg, NAME.cpu_eng, NAME.cpu_busy
# as a percentage of all the cores over the run.
pg_procs() { # the postmaster and its children
    local pm
    pm=$(head -1 "$PG_DIR/data/postmaster.pid" 2>/dev/null) || return
    echo "$pm"
    cat /proc/"$pm"/task/*/children 2>/dev/null | tr ' ' '\n' | grep .
}
ticks_of() { # PID...: "pid ticks" lines (utime + stime)
    local p
    for p; do
        awk -v p="$p" '{ sub(/^.*\) /, ""); print p, $12 + $13 }' "/proc/$p/stat" 2>/dev/null
    done
}
# context switches (voluntary and not) of every thread of PID...
ctxsw_of() {
    local p
    for p; do cat /proc/"$p"/task/*/status 2>/dev/null; done |
        awk '/^(non)?voluntary_ctxt_switches:/ { s += $2 } END { printf "%d", s }'
}
declare -A PG_T0
# shellcheck disable=SC2046 # $(pg_procs): one pid a word
pg_cpu_start() { # ENGAGE_PIDS...
    PG_T0=()
    local p t
    while read -r p t; do PG_T0[pg.$p]=$t; done < <(ticks_of $(pg_procs))
    while read -r p t; do PG_T0[eng.$p]=$t; done < <(ticks_of "$@")
    PG_T0[stat]=$(awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat)
    PG_T0[cs_pg]=$(ctxsw_of $(pg_procs))
    PG_T0[cs_eng]=$(ctxsw_of "$@")
}
# shellcheck disable=SC2046
pg_cpu_end() { # NAME ENGAGE_PIDS...
    local n=$1 p t dpg=0 deng=0 s
    shift
    while read -r p t; do dpg=$((dpg + t - ${PG_T0[pg.$p]:-0})); done < <(ticks_of $(pg_procs))
    while read -r p t; do deng=$((deng + t - ${PG_T0[eng.$p]:-0})); done < <(ticks_of "$@")
    s=$(awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat)
    local total
    total=$(awk -v a="${PG_T0[stat]}" -v b="$s" 'BEGIN { split(a, x, " "); split(b, y, " "); print y[2] - x[2] }')
    R[$n.cpu_busy]=$(awk -v a="${PG_T0[stat]}" -v b="$s" 'BEGIN { split(a, x, " "); split(b, y, " ");
        d = y[2] - x[2]; printf "%.0f", (d > 0 ? 100 * (y[1] - x[1]) / d : 0) }')
    # /proc/stat counts every core's ticks; a process's ticks are per core too
    R[$n.cpu_pg]=$(calc "$total > 0 ? 100 * $dpg / $total : 0")
    R[$n.cpu_eng]=$(calc "$total > 0 ? 100 * $deng / $total : 0")
    R[$n.cs_pg]=$(($(ctxsw_of $(pg_procs)) - PG_T0[cs_pg]))
    R[$n.cs_eng]=$(($(ctxsw_of "$@") - PG_T0[cs_eng]))
}

# commit counters of a node: "batches writes seconds"
commit_stats() { # PORT
    curl -s "http://127.0.0.1:$1/metrics" | awk '
        $1 == "engage_store_commit_batches_total" { b = $2 }
        $1 == "engage_store_commit_writes_total" { w = $2 }
        $1 == "engage_store_commit_seconds_total" { s = $2 }
        END { printf "%d %d %s\n", b, w, (s == "" ? 0 : s) }'
}
# NAME "b w s" (before, summed over the nodes) "b w s" (after)
commit_delta() {
    local n=$1 b0 w0 s0 b1 w1 s1
    read -r b0 w0 s0 <<<"$2"
    read -r b1 w1 s1 <<<"$3"
    R[$n.batches]=$((b1 - b0))
    R[$n.writes]=$((w1 - w0))
    if [ "${R[$n.batches]}" -gt 0 ]; then
        R[$n.perbatch]=$(calc "${R[$n.writes]} / ${R[$n.batches]}")
        R[$n.commitms]=$(calc "1000 * ($s1 - $s0) / ${R[$n.batches]}")
        # BEGIN, an INSERT into credentials and one into audit per write,
        # COMMIT: one round trip each, in turn, on the node's writer connection
        R[$n.rtus]=$(calc "1000 * ${R[$n.commitms]} / (2 + 2 * ${R[$n.perbatch]})")
    fi
}
sum3() { awk '{ b += $1; w += $2; s += $3 } END { printf "%d %d %.6f\n", b, w, s }'; }

# pg_measure NAME LUA ENV... : one run against the node(s) in PG_PORTS, with
# CPU and commit figures; two nodes: two wrk at once, -c CONNS/2 each, req/s
# summed, the worse p50/p99 of the two.
pg_measure() {
    local n=$1 lua=$2
    shift 2
    local ports=("${PG_PORTS[@]}") pids=("${PG_ENG_PIDS[@]}") p c0 c1
    c0=$(for p in "${ports[@]}"; do commit_stats "$p"; done | sum3)
    pg_cpu_start "${pids[@]}"
    if [ ${#ports[@]} = 1 ]; then
        wrk_run "$n" "http://127.0.0.1:${ports[0]}" "$lua" "$@"
    else
        local half=$((CONNS / 2)) th=$((WTHREADS / 2)) i wp=()
        [ "$th" -ge 1 ] || th=1
        for i in 0 1; do
            env "$@" BENCH_RUN="$n-$i" wrk -t"$th" -c"$half" -d"${DUR}s" --timeout "$WRK_TIMEOUT" --latency \
                -s "$BENCH_SRC/lua/$lua" "http://127.0.0.1:${ports[$i]}" >"$W/wrk-$n.$i.txt" 2>&1 &
            wp+=($!)
        done
        for i in 0 1; do
            wait "${wp[$i]}" || { cat "$W/wrk-$n.$i.txt" >&2; die "wrk $n.$i failed"; }
            parse_wrk "$W/wrk-$n.$i.txt" "$n.$i"
        done
        R[$n.rps]=$(calc "${R[$n.0.rps]} + ${R[$n.1.rps]}")
        R[$n.p50]=$(calc "${R[$n.0.p50]} > ${R[$n.1.p50]} ? ${R[$n.0.p50]} : ${R[$n.1.p50]}")
        R[$n.p99]=$(calc "${R[$n.0.p99]} > ${R[$n.1.p99]} ? ${R[$n.0.p99]} : ${R[$n.1.p99]}")
        R[$n.non2xx]=$((R[$n.0.non2xx] + R[$n.1.non2xx]))
        R[$n.sockerr]=$((R[$n.0.sockerr] + R[$n.1.sockerr]))
        log "  $n: ${R[$n.rps]} req/s (${R[$n.0.rps]} + ${R[$n.1.rps]}), worse p50 ${R[$n.p50]} ms, worse p99 ${R[$n.p99]} ms, non-2xx ${R[$n.non2xx]}, socket errors ${R[$n.sockerr]}"
    fi
    pg_cpu_end "$n" "${pids[@]}"
    c1=$(for p in "${ports[@]}"; do commit_stats "$p"; done | sum3)
    commit_delta "$n" "$c0" "$c1"
    for p in "${pids[@]}"; do
        kill -0 "$p" 2>/dev/null || die "an engage node on PostgreSQL exited during $n (see $W/engage-pg-*.log)"
    done
    local reqs
    reqs=$(calc "${R[$n.rps]} * $DUR")
    R[$n.cspr_pg]=$(calc "${R[$n.cs_pg]} / $reqs")
    R[$n.cspr_eng]=$(calc "${R[$n.cs_eng]} / $reqs")
    log "    CPU: PostgreSQL ${R[$n.cpu_pg]} %, engage ${R[$n.cpu_eng]} %, machine busy ${R[$n.cpu_busy]} %; context switches per request: engage ${R[$n.cspr_eng]}, PostgreSQL ${R[$n.cspr_pg]}"
}

# A fresh account (run.sh's fresh_account on the first node), verified once
# on every node so no node does its Argon2id check during the run.
pg_fresh_account() {
    fresh_account "$PG_URL" "$PG_T" "$PG_K" "${PG_PORTS[0]}"
    local p
    for p in "${PG_PORTS[@]:1}"; do
        [ "$(curl -s -o /dev/null -w '%{http_code}' -H "alle-subscription-key: $PG_K" \
            -u "$USERPASS" "http://127.0.0.1:$p/engage/credentials?limit=1")" = 200 ] ||
            die "the fresh account is refused by the node on :$p"
    done
}

pg_bench() {
    [ "${BENCH_PG:-1}" = 0 ] && { log "BENCH_PG=0: no PostgreSQL rows"; return; }
    local n=${BENCH_PG_N:-$N_SMALL} t0 s
    PG_DIR=$(mktemp -d /tmp/engage-bench-pg.XXXXXX) || die "mktemp failed"
    log "PostgreSQL: starting a throwaway server in $PG_DIR (tests/pg/pg.sh)"
    PG_PORT=$(sh "$REPO/tests/pg/pg.sh" start "$PG_DIR") || die "PostgreSQL did not start"
    for s in server_version shared_buffers synchronous_commit fsync wal_level full_page_writes \
             wal_sync_method commit_delay max_connections work_mem; do
        R[pg.$s]=$(pg_sql -c "SHOW $s")
    done
    R[pg.server_version]=${R[pg.server_version]%% *}
    log "  PostgreSQL ${R[pg.server_version]} on :$PG_PORT; shared_buffers ${R[pg.shared_buffers]}, synchronous_commit ${R[pg.synchronous_commit]}, fsync ${R[pg.fsync]}, wal_level ${R[pg.wal_level]}"
    pg_sql -c "CREATE DATABASE bench" || die "CREATE DATABASE failed"
    PG_URL="postgres://postgres@127.0.0.1:$PG_PORT/bench"

    log "  demo tenant, seeding $n credentials ($((n / 3)) users)"
    local out
    out=$(engage "$PG_URL" --json demo) || die "demo on PostgreSQL failed"
    PG_T=$(printf '%s' "$out" | json_field tenantId)
    PG_K=$(printf '%s' "$out" | json_field subscriptionKey)
    t0=${EPOCHREALTIME/./}
    engage "$PG_URL" --json seed "$PG_T" --credentials "$n" --users $((n / 3)) >"$W/seed-pg.json" 2>"$W/seed-pg.err" ||
        { cat "$W/seed-pg.err" >&2; die "seed on PostgreSQL failed"; }
    R[pg.seed.s]=$(calc "(${EPOCHREALTIME/./} - $t0) / 1e6")
    R[pg.n]=$n
    log "  seeded in ${R[pg.seed.s]} s"
    pg_sql -d bench -c "VACUUM ANALYZE" || die "VACUUM ANALYZE failed"
    pg_sql -d bench -c "SELECT '/engage/credentials/' || credential_id FROM credentials
                        WHERE tenant_id = '$PG_T' ORDER BY random() LIMIT 10000" >"$W/paths-pg-get.txt" ||
        die "psql failed"
    awk -v m=$((n / 3)) 'BEGIN { srand(4); for (i = 0; i < 10000; i++)
        printf "/engage/credentials?userId=seed-%d\n", int(rand() * m) }' >"$W/paths-pg-user.txt"

    local PA PB EA EB
    PA=$(free_port)
    log "  engage node A on :$PA"
    start_pg_node "$PA"
    EA=$ENGAGE_PID
    PG_PORTS=("$PA")
    PG_ENG_PIDS=("$EA")
    pg_fresh_account
    R[pg.items]=$(curl -s -H "alle-subscription-key: $PG_K" -u "$USERPASS" \
        "http://127.0.0.1:$PA/engage/credentials?userId=seed-7" | grep -o '"credentialId"' | wc -l)
    log "  warm-up: point reads and userId lists, 1 s each"
    WRK_DUR=1 wrk_run pgwarm1 "http://127.0.0.1:$PA" get.lua BENCH_PATHS="$W/paths-pg-get.txt" BENCH_KEY="$PG_K" BENCH_BASIC="$BASIC"
    WRK_DUR=1 wrk_run pgwarm2 "http://127.0.0.1:$PA" get.lua BENCH_PATHS="$W/paths-pg-user.txt" BENCH_KEY="$PG_K" BENCH_BASIC="$BASIC"

    local k
    for k in 1 2; do
        if [ $k = 2 ]; then
            PB=$(free_port)
            log "  engage node B on :$PB (same database)"
            start_pg_node "$PB"
            EB=$ENGAGE_PID
            PG_PORTS=("$PA" "$PB")
            PG_ENG_PIDS=("$EA" "$EB")
            pg_fresh_account
            log "  warm-up of node B, 1 s"
            WRK_DUR=1 wrk_run pgwarm3 "http://127.0.0.1:$PB" get.lua BENCH_PATHS="$W/paths-pg-get.txt" BENCH_KEY="$PG_K" BENCH_BASIC="$BASIC"
            WRK_DUR=1 wrk_run pgwarm4 "http://127.0.0.1:$PB" get.lua BENCH_PATHS="$W/paths-pg-user.txt" BENCH_KEY="$PG_K" BENCH_BASIC="$BASIC"
        fi
        log "PostgreSQL, $k node(s): GET /credentials/{id}"
        pg_fresh_account
        pg_measure "pg$k.get" get.lua BENCH_PATHS="$W/paths-pg-get.txt" BENCH_KEY="$PG_K" BENCH_BASIC="$BASIC"
        log "PostgreSQL, $k node(s): GET /credentials?userId=U"
        pg_fresh_account
        pg_measure "pg$k.user" get.lua BENCH_PATHS="$W/paths-pg-user.txt" BENCH_KEY="$PG_K" BENCH_BASIC="$BASIC"
        log "PostgreSQL, $k node(s): POST /credentials"
        pg_fresh_account
        pg_measure "pg$k.post" post.lua BENCH_PATH=/engage/credentials BENCH_KEY="$PG_K" BENCH_BASIC="$BASIC" BENCH_RUN="pg$k"
        log "    ${R[pg$k.post.perbatch]:-?} writes per commit, ${R[pg$k.post.commitms]:-?} ms per commit, ~${R[pg$k.post.rtus]:-?} µs per round trip"
    done
    R[pg.conns]=$(pg_sql -c "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'engage'")
    R[pg.rows]=$(pg_sql -d bench -c "SELECT count(*) FROM credentials")
    stop_pid "$EB"
    stop_pid "$EA"
    if grep -qiE 'error|fatal|panic' "$W"/engage-pg-*.log; then
        R[pg.logerr]=$(grep -hiE 'error|fatal|panic' "$W"/engage-pg-*.log | head -3 | tr '\n' ' ')
        log "  errors in the engage logs: ${R[pg.logerr]}"
    fi
    if grep -qE 'ERROR|FATAL|PANIC' "$PG_DIR/server.log"; then
        R[pg.srverr]=$(grep -cE 'ERROR|FATAL|PANIC' "$PG_DIR/server.log")
        log "  $(grep -E 'ERROR|FATAL|PANIC' "$PG_DIR/server.log" | head -3)"
    fi
    [ "${BENCH_KEEP:-0}" = 1 ] && cp "$PG_DIR/server.log" "$W/pg-server.log" 2>/dev/null
    log "stopping PostgreSQL"
    pg_cleanup
}

# The PostgreSQL table of the report
pg_row() { # workload nodes name sqlite_name notes
    local n=$3 ratio=
    [ -n "${R[$4.rps]:-}" ] && ratio=$(fmt %.2f "$(calc "${R[$n.rps]} / ${R[$4.rps]}")")
    printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$1" "$2" "$CONNS" \
        "$(fmt %.0f "${R[$n.rps]:-}")" "$(fmt %.2f "${R[$n.p50]:-}")" "$(fmt %.2f "${R[$n.p99]:-}")" \
        "$ratio" "$(errs "$n")CPU: PostgreSQL $(fmt %.0f "${R[$n.cpu_pg]}") %, engage $(fmt %.0f "${R[$n.cpu_eng]}") % of the cores (machine $(fmt %.0f "${R[$n.cpu_busy]}") % busy); context switches per request: engage $(fmt %.1f "${R[$n.cspr_eng]}"), PostgreSQL $(fmt %.1f "${R[$n.cspr_pg]}")$5"
}

pg_report() {
    [ "${BENCH_PG:-1}" = 0 ] && return
    [ -n "${R[pg2.post.rps]:-}" ] || return
    echo "**PostgreSQL store** (issue 6): PostgreSQL ${R[pg.server_version]} from \`tests/pg/pg.sh\` on the same machine and disk, its settings: shared_buffers ${R[pg.shared_buffers]}, synchronous_commit ${R[pg.synchronous_commit]}, fsync ${R[pg.fsync]}, wal_level ${R[pg.wal_level]}, full_page_writes ${R[pg.full_page_writes]}, wal_sync_method ${R[pg.wal_sync_method]}, commit_delay ${R[pg.commit_delay]}, max_connections ${R[pg.max_connections]}, work_mem ${R[pg.work_mem]} (the rest as initdb leaves it). One tenant of ${R[pg.n]} credentials, ${R[pg.items]} per user (\`engage seed\`: $(fmt %.1f "${R[pg.seed.s]}") s). Two nodes: two \`engage serve\` on the same database, driven at once by two wrk of -c$((CONNS / 2)) each: req/s summed, p50 and p99 the worse of the two. One run each (the SQLite point read is the median of $ROUNDS rounds); × SQLite is against the SQLite row of the same workload above (its userId list is on the $N_BIG tenant). ${R[pg.conns]} engage connections to PostgreSQL with both nodes up."
    echo
    echo "| workload (PostgreSQL store) | nodes | conns | req/s | p50 ms | p99 ms | × SQLite | notes |"
    echo "|---|---|---|---|---|---|---|---|"
    local k
    for k in 1 2; do
        pg_row "\`GET {base}/credentials/{id}\`, tenant of ${R[pg.n]}" "$k" "pg$k.get" get \
            "$([ $k = 2 ] && printf '; per node %s + %s req/s' "$(fmt %.0f "${R[pg2.get.0.rps]}")" "$(fmt %.0f "${R[pg2.get.1.rps]}")")"
        pg_row "\`GET {base}/credentials?userId=U\` (${R[pg.items]} credentials), tenant of ${R[pg.n]}" "$k" "pg$k.user" user \
            "$([ $k = 2 ] && printf '; per node %s + %s req/s' "$(fmt %.0f "${R[pg2.user.0.rps]}")" "$(fmt %.0f "${R[pg2.user.1.rps]}")")"
        pg_row "\`POST {base}/credentials\`, each 201 durable" "$k" "pg$k.post" post \
            "; $(fmt %.1f "${R[pg$k.post.perbatch]:-}") writes per commit, $(fmt %.2f "${R[pg$k.post.commitms]:-}") ms per commit (≈ $(fmt %.0f "${R[pg$k.post.rtus]:-}") µs per statement round trip)$([ $k = 2 ] && printf '; per node %s + %s req/s' "$(fmt %.0f "${R[pg2.post.0.rps]}")" "$(fmt %.0f "${R[pg2.post.1.rps]}")")"
    done
    if [ -n "${R[pg.logerr]:-}${R[pg.srverr]:-}" ]; then
        echo
        local srv=
        [ -n "${R[pg.srverr]:-}" ] && srv="${R[pg.srverr]} ERROR/FATAL lines in the PostgreSQL log"
        echo "Errors during the PostgreSQL runs: ${R[pg.logerr]:-}$srv"
    fi
    echo
}
