#!/bin/sh
# pg.sh start|stop DIR - a throwaway PostgreSQL 15 server for the tests.
#   start: makes DIR (which must not exist, or be empty) owned by the
#          `postgres` user when run as root (PostgreSQL refuses to run as
#          root), runs initdb there (UTF8, --locale=C, trust authentication)
#          and starts the server on a free loopback port with its socket in
#          DIR and fsync on; prints the port. Exits non-zero, printing the
#          server's log, when the server does not start.
#   stop:  stops it (fast) and removes DIR.
#   down:  stops it (fast), keeping DIR: an outage, for the fault tests.
#   up:    starts it again after `down`, on the same port.
# The binaries come from PG_BIN (default /usr/lib/postgresql/15/bin).
set -eu
cmd=${1:-}
dir=${2:-}
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
if [ -z "$cmd" ] || [ -z "$dir" ]; then
    echo "usage: pg.sh start|stop|down|up DIR" >&2
    exit 2
fi
if [ -d "$dir" ]; then
    dir=$(cd "$dir" && pwd)
fi

# Runs a command as the server's owner: `postgres` when we are root.
as_owner() {
    if [ "$(id -u)" -eq 0 ]; then
        if command -v runuser >/dev/null 2>&1; then
            runuser -u postgres -- "$@"
        else
            su postgres -s /bin/sh -c '"$0" "$@"' -- "$@"
        fi
    else
        "$@"
    fi
}

# Starts the server in $dir/data on port $1; fails, printing its log.
pg_start() {
    as_owner "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
        -o "-c listen_addresses=127.0.0.1 -p $1 -c unix_socket_directories=$dir -c fsync=on -c max_connections=300" \
        start >"$dir/pg_ctl.log" 2>&1
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

case "$cmd" in
start)
    if [ ! -x "$PG_BIN/initdb" ]; then
        echo "pg.sh: no PostgreSQL binaries in $PG_BIN (install postgresql-15)" >&2
        exit 1
    fi
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    if [ "$(id -u)" -eq 0 ]; then
        if ! id postgres >/dev/null 2>&1; then
            echo "pg.sh: running as root and there is no postgres user" >&2
            exit 1
        fi
        chown postgres: "$dir"
        chmod 700 "$dir"
    fi
    as_owner "$PG_BIN/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 \
        --locale=C >"$dir/initdb.log" 2>&1 || {
        cat "$dir/initdb.log" >&2
        exit 1
    }
    tries=0
    while :; do
        port=$(free_port)
        if pg_start "$port"; then
            break
        fi
        tries=$((tries + 1))
        if [ "$tries" -ge 3 ]; then
            echo "pg.sh: PostgreSQL did not start:" >&2
            cat "$dir/pg_ctl.log" "$dir/server.log" >&2 2>/dev/null || true
            exit 1
        fi
    done
    echo "$port" > "$dir/port"
    echo "$port"
    ;;
stop)
    if [ -d "$dir/data" ]; then
        as_owner "$PG_BIN/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
    ;;
down)
    as_owner "$PG_BIN/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
    ;;
up)
    if ! pg_start "$(cat "$dir/port")"; then
        echo "pg.sh: PostgreSQL did not start again:" >&2
        cat "$dir/pg_ctl.log" "$dir/server.log" >&2 2>/dev/null || true
        exit 1
    fi
    ;;
*)
    echo "usage: pg.sh start|stop|down|up DIR" >&2
    exit 2
    ;;
esac
