#!/usr/bin/env bash
# Load benchmark of several gateway nodes on one PostgreSQL database (issue 23): requests per
# second with 1, 2 and 3 nodes whose audit logs share one throwaway PostgreSQL cluster, against one
# node on SQLite, all serving `demo/echo` from their built-in demo upstream, on 127.0.0.1 only, in
# one bounded run. wrk drives every node at once (CONNS connections each) for DURATION seconds.
#
#   tests/load/cluster.sh                      # 10 s per shape
#   DURATION=30 CONNS=16 tests/load/cluster.sh
#   AUDITGATE_BIN=path/to/auditgate ...        # measure a given binary instead of building one
#
# Output: one line per shape on stdout and in target/load/cluster.md (logs in target/load/cluster/).
# Every process here (nodes, wrk, PostgreSQL) shares the machine's cores: the figures say what one
# machine does, not what N machines would.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
HERE="$ROOT/tests/load"
OUT="$ROOT/target/load/cluster"
DURATION="${DURATION:-10}"
CONNS="${CONNS:-32}"
PG_PORT="${PG_PORT:-18300}"
BASE_PORT=18310
PIDS=()
PG_BIN=""
PG_DATA=""

log() { echo "[cluster $(date +%H:%M:%S)] $*" >&2; }
as_server_user() { if [ "$(id -u)" = 0 ]; then runuser -u nobody -- "$@"; else "$@"; fi; }
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    sleep 0.3
    for pid in "${PIDS[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
    [ -n "$PG_DATA" ] && as_server_user "$PG_BIN/pg_ctl" -D "$PG_DATA" -m immediate -w stop >/dev/null 2>&1 || true
}
trap cleanup EXIT INT TERM

command -v wrk >/dev/null || { apt-get install -y wrk >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; }; }
PG_BIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
[ -x "$PG_BIN/initdb" ] || { echo "PostgreSQL server binaries not found: apt-get install postgresql" >&2; exit 1; }
BIN="${AUDITGATE_BIN:-$ROOT/target/release/auditgate}"
if [ -z "${AUDITGATE_BIN:-}" ]; then
    log "building auditgate (cargo build --release)"
    (cd "$ROOT" && cargo build --release --locked --bin auditgate >&2)
fi

rm -rf "$OUT" && mkdir -p "$OUT"
chmod 755 "$OUT"
[ "$(id -u)" = 0 ] && chown nobody "$OUT"
PG_DATA="$OUT/pg"
as_server_user "$PG_BIN/initdb" -D "$PG_DATA" -U postgres --auth=trust -E UTF8 --locale=C >"$OUT/initdb.log"
as_server_user "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$OUT/pg.log" -w \
    -o "-p $PG_PORT -c listen_addresses=127.0.0.1 -c unix_socket_directories=''" start >/dev/null
sed 's#"MODEL"#"demo/echo"#' "$HERE/request.json" >"$OUT/request.json"

# start_node NAME PORT BACKEND DB: a gateway with its own data directory; prints its key.
start_node() {
    local name=$1 port=$2 backend=$3 db=$4 d="$OUT/$1"
    mkdir -p "$d/data"
    {
        echo "listen = \"127.0.0.1:$port\""
        echo "data_dir = \"$d/data\""
        echo "policy_dir = \"$ROOT/policies\""
        echo "[audit]"
        echo "origin = \"auditgate.bench/$name\""
        if [ "$backend" = postgres ]; then
            echo "[state]"
            echo "backend = \"postgres\""
            echo "url = \"postgresql://postgres@127.0.0.1:$PG_PORT/$db\""
            echo "node = \"$name\""
        fi
    } >"$d/gateway.toml"
    "$BIN" keys create --name bench --team bench --data-dir "$d/data" 2>/dev/null | tail -1 >"$d/key"
    "$BIN" serve --config "$d/gateway.toml" >"$d/stdout.log" 2>"$d/stderr.log" &
    PIDS+=($!)
    for _ in $(seq 1 100); do
        grep -q "listening on" "$d/stdout.log" 2>/dev/null && return 0
        sleep 0.1
    done
    echo "node $name did not start: $(cat "$d/stderr.log")" >&2
    exit 1
}

# shape LABEL BACKEND N: N nodes, wrk on each at once; one result line.
shape() {
    local label=$1 backend=$2 n=$3 db="bench_$1" i pids=() total=0 p50s="" p99s=""
    [ "$backend" = postgres ] && "$PG_BIN/psql" -X -q -d "postgresql://postgres@127.0.0.1:$PG_PORT/postgres" -c "CREATE DATABASE $db"
    for i in $(seq 1 "$n"); do start_node "$label-$i" $((BASE_PORT + i)) "$backend" "$db"; done
    # warm-up
    for i in $(seq 1 "$n"); do
        wrk -t1 -c8 -d2s -s "$HERE/report.lua" "http://127.0.0.1:$((BASE_PORT + i))/v1/chat/completions" -- \
            "$OUT/request.json" "Authorization: Bearer $(cat "$OUT/$label-$i/key")" >/dev/null 2>&1 &
        pids+=($!)
    done
    wait "${pids[@]}"
    pids=()
    for i in $(seq 1 "$n"); do
        wrk -t1 -c"$CONNS" -d"${DURATION}s" --timeout 10s -s "$HERE/report.lua" \
            "http://127.0.0.1:$((BASE_PORT + i))/v1/chat/completions" -- "$OUT/request.json" \
            "Authorization: Bearer $(cat "$OUT/$label-$i/key")" >"$OUT/$label-$i/wrk.txt" 2>&1 &
        pids+=($!)
    done
    wait "${pids[@]}"
    for i in $(seq 1 "$n"); do
        local line
        line=$(grep '^RESULT' "$OUT/$label-$i/wrk.txt")
        total=$(awk -v t="$total" -v r="$(echo "$line" | sed -n 's/.*rps=\([0-9.]*\).*/\1/p')" 'BEGIN { printf "%.0f", t + r }')
        p50s="$p50s $(echo "$line" | sed -n 's/.*p50=\([0-9.]*\).*/\1/p')"
        p99s="$p99s $(echo "$line" | sed -n 's/.*p99=\([0-9.]*\).*/\1/p')"
        grep -q 'non2xx=0 sockerr=0' <<<"$line" || log "$label-$i answered errors: $line"
    done
    echo "| $label | $n | $CONNS | $total |$p50s |$p99s |" | tee -a "$OUT/../cluster.md"
    # Stop the shape's nodes before the next one (SIGTERM: drain, final checkpoint).
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    PIDS=()
}

{
    echo "cluster run $(date -u +%FT%TZ), $(nproc) cores, ${DURATION} s per shape, $CONNS connections per node"
    echo
    echo "| shape | nodes | conns/node | total RPS | p50 ms per node | p99 ms per node |"
    echo "|---|---|---|---|---|---|"
} | tee "$OUT/../cluster.md"
shape sqlite sqlite 1
shape pg1 postgres 1
shape pg2 postgres 2
shape pg3 postgres 3
