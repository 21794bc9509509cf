#!/usr/bin/env bash
# Load benchmark of auditgate against a direct call, a bare Rust reverse proxy (`passthrough`, the
# floor for any Rust gateway here), the LiteLLM proxy and the Portkey gateway, all in front of the
# same canned upstream (nginx), on 127.0.0.1 only, in one bounded run. The same run measures the
# fdatasync latency of the gateway's data directory, the physical floor of a durable log.
#
#   tests/load/run.sh              # full run: 15 s per shape (about 6 minutes with all peers)
#   QUICK=1 tests/load/run.sh      # 3 s per shape, fewer streaming probes
#   DURATION=30 PEERS="direct auditgate" tests/load/run.sh
#   AUDITGATE_BIN=path/to/auditgate ...  # measure a given binary instead of building one
#   PASSTHROUGH_BIN=path/to/passthrough ...  # the same for the passthrough peer
#
# Pinning: wrk, nginx and the probe clients on CPU 0, the gateway under test (and each peer, and the
# fdatasync probe) on CPU 1.
# Output: a markdown report on stdout and in target/load/results.md (logs in target/load/).
# A peer that cannot be installed or started is reported as skipped; the run goes on.
set -uo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
HERE="$ROOT/tests/load"
OUT="$ROOT/target/load"
QUICK="${QUICK:-0}"
if [ "$QUICK" = 1 ]; then DEFAULT_DURATION=3; else DEFAULT_DURATION=15; fi
DURATION="${DURATION:-$DEFAULT_DURATION}"
SHAPES="${SHAPES:-1 32 256}"
PEERS="${PEERS:-direct passthrough auditgate litellm portkey}"
TTFB_N="${TTFB_N:-$([ "$QUICK" = 1 ] && echo 100 || echo 500)}"
SLOW_STREAMS="${SLOW_STREAMS:-1000}"
SLOW_CHUNKS="${SLOW_CHUNKS:-$([ "$QUICK" = 1 ] && echo 24 || echo 60)}"
FSYNC_N="${FSYNC_N:-$([ "$QUICK" = 1 ] && echo 500 || echo 2000)}"
FSYNC_MAX_S="${FSYNC_MAX_S:-30}"
LOAD_CPU="${LOAD_CPU:-0}"
GW_CPU="${GW_CPU:-1}"

P_JSON=18081 P_SSE=18082 P_SLOW=18083 P_AG=18090 P_LITELLM=18091 P_PORTKEY=18092 P_PT=18093 P_PT_SSE=18094
MASTER_KEY="sk-bench-master-key"
PIDS=()

log() { echo "[load $(date +%H:%M:%S)] $*" >&2; }
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null; done
    sleep 0.3
    for pid in "${PIDS[@]}"; do kill -9 "$pid" 2>/dev/null; done
}
trap cleanup EXIT INT TERM

mkdir -p "$OUT"
rm -f "$OUT"/rows.txt "$OUT"/switches.txt "$OUT"/stream.txt "$OUT"/notes.txt "$OUT"/loglat.txt "$OUT"/slow.txt "$OUT"/fsync.txt
ulimit -n 65536 2>/dev/null || ulimit -n 8192 2>/dev/null || true
note() { echo "- $*" >>"$OUT/notes.txt"; log "$*"; }

# ---- tools -------------------------------------------------------------------------------------
need_apt() {
    local missing=()
    command -v nginx >/dev/null || missing+=(nginx)
    command -v wrk >/dev/null || missing+=(wrk)
    [ ${#missing[@]} -eq 0 ] && return 0
    log "installing ${missing[*]} with apt-get"
    apt-get install -y "${missing[@]}" >"$OUT/apt.log" 2>&1 ||
        { apt-get update >>"$OUT/apt.log" 2>&1 && apt-get install -y "${missing[@]}" >>"$OUT/apt.log" 2>&1; }
}
need_apt
NGINX="$(command -v nginx || echo /usr/sbin/nginx)"
command -v wrk >/dev/null || { echo "wrk is required and could not be installed" >&2; exit 1; }
[ -x "$NGINX" ] || { echo "nginx is required and could not be installed" >&2; exit 1; }

install_litellm() {
    local venv="$ROOT/target/litellm-venv"
    [ -x "$venv/bin/litellm" ] && return 0
    log "installing litellm[proxy] into $venv"
    python3 -m venv "$venv" >"$OUT/litellm-install.log" 2>&1 &&
        "$venv/bin/pip" install -q 'litellm[proxy]' >>"$OUT/litellm-install.log" 2>&1
}
install_portkey() {
    local dir="$ROOT/target/portkey"
    [ -f "$dir/node_modules/@portkey-ai/gateway/build/start-server.js" ] && return 0
    command -v npm >/dev/null || return 1
    log "installing @portkey-ai/gateway into $dir"
    mkdir -p "$dir" && (cd "$dir" && npm install --no-audit --no-fund @portkey-ai/gateway >"$OUT/portkey-install.log" 2>&1)
}

# ---- helpers -----------------------------------------------------------------------------------
wait_port() { # port seconds
    local i
    for ((i = 0; i < $2 * 10; i++)); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}
# A port something else already listens on would make wait_port succeed for the wrong server and
# the run measure it (a leftover gateway answering 401 looked like 90,000 RPS), so refuse to start.
for port in $P_JSON $P_SSE $P_SLOW $P_AG $P_LITELLM $P_PORTKEY $P_PT $P_PT_SSE; do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        echo "tests/load/run.sh: port $port on 127.0.0.1 is already in use (a leftover server from an earlier run?); stop it first" >&2
        exit 2
    fi
done
# Sum of a /proc status field (kB) over a process and its children (LiteLLM and Node may fork).
mem_kb() { # pid field
    local total=0 p v
    for p in $1 $(pgrep -P "$1" 2>/dev/null); do
        v=$(awk -v f="$2:" '$1==f {print $2}' "/proc/$p/status" 2>/dev/null)
        total=$((total + ${v:-0}))
    done
    echo "$total"
}
# CPU time (clock ticks, user + system, all threads) of a process and its children.
cpu_ticks() {
    local total=0 p
    for p in $1 $(pgrep -P "$1" 2>/dev/null); do
        total=$((total + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0)))
    done
    echo "$total"
}
# Context switches (voluntary + involuntary) of every thread of a process, one "name count" line
# per thread name (threads of one name summed): each switch is a thread going to sleep or being
# put off the core, so per request they count the hand-offs and wake-ups a call costs.
thread_switches() {
    local t name n
    for t in /proc/"$1"/task/*; do
        name=$(tr ' ' '_' <"$t/comm" 2>/dev/null) || continue
        n=$(awk '/ctxt_switches/ {s += $2} END {print s + 0}' "$t/status" 2>/dev/null)
        echo "$name ${n:-0}"
    done | awk '{s[$1] += $2} END {for (k in s) print k, s[k]}' | sort
}
# switches_per_request BEFORE AFTER REQUESTS: "name=per_request ..." for each thread name.
switches_per_request() {
    join -a2 -e0 -o 0,1.2,2.2 <(echo "$1") <(echo "$2") |
        awk -v n="$3" '{ if (n > 0) printf "%s=%.2f ", $1, ($3 - $2) / n }'
}
CLK_TCK=$(getconf CLK_TCK)
# The gateway core's counters from /proc/stat (user nice system idle iowait irq softirq steal), in
# clock ticks: how busy the core was (kernel workers for the gateway's I/O included), and how much
# of the rest was I/O wait (idle with an fsync in flight) rather than plain idle.
core_ticks() {
    awk -v c="cpu$GW_CPU" '$1 == c { print $2, $3, $4, $5, $6, $7, $8, $9 }' /proc/stat
}
# core_share T0 T1 REQUESTS: the core_busy, core_soft, core_iowait, core_idle and core_steal shares
# (%) between two core_ticks, and core_us, the busy time per request. Steal (the host running
# something else) is not the gateway's work, so busy leaves it out.
core_share() {
    awk -v a="$1" -v b="$2" -v n="$3" -v hz="$CLK_TCK" 'BEGIN {
        split(a, x, " "); split(b, y, " "); t = 0
        for (i = 1; i <= 8; i++) { d[i] = y[i] - x[i]; t += d[i] }
        if (t <= 0) t = 1
        busy = t - d[4] - d[5] - d[8]
        printf "core_busy=%.1f core_soft=%.1f core_iowait=%.1f core_idle=%.1f core_steal=%.1f core_us=%.1f",
            100 * busy / t, 100 * d[7] / t, 100 * d[5] / t, 100 * d[4] / t, 100 * d[8] / t,
            (n > 0 ? busy * 1e6 / hz / n : 0)
    }'
}
body_for() { # model -> file
    local f="$OUT/request-${1//\//_}.json"
    sed "s#\"MODEL\"#\"$1\"#" "$HERE/request.json" >"$f"
    echo "$f"
}
stream_body_for() {
    local f="$OUT/request-stream-${1//\//_}.json"
    sed -e "s#\"MODEL\"#\"$1\"#" -e 's#"stream": false#"stream": true#' "$HERE/request.json" >"$f"
    echo "$f"
}

# run_shapes NAME URL BODY PID [headers...]: wrk at each shape, one table row each.
# With LOG_DB set (auditgate), the shape's response entries also say where its time went.
run_shapes() {
    local name=$1 url=$2 body=$3 pid=$4
    shift 4
    local c line rss t0 t1 n cpu_us seq0 seq1 k0 k1 core w0 w1
    # warm-up: connections, pools and caches
    taskset -c "$LOAD_CPU" wrk -t1 -c32 -d"$([ "$QUICK" = 1 ] && echo 1 || echo 3)"s --timeout 10s \
        -s "$HERE/report.lua" "$url" -- "$body" "$@" >/dev/null 2>&1
    for c in $SHAPES; do
        seq0=$([ -n "${LOG_DB:-}" ] && python3 "$HERE/log_latency.py" "$LOG_DB" size)
        t0=$([ "$pid" = 0 ] && echo 0 || cpu_ticks "$pid")
        k0=$(core_ticks)
        w0=$([ "$pid" = 0 ] || thread_switches "$pid")
        line=$(taskset -c "$LOAD_CPU" wrk -t1 -c"$c" -d"${DURATION}s" --timeout 10s \
            -s "$HERE/report.lua" "$url" -- "$body" "$@" 2>&1 | grep '^RESULT')
        k1=$(core_ticks)
        w1=$([ "$pid" = 0 ] || thread_switches "$pid")
        rss=$([ "$pid" = 0 ] && echo 0 || mem_kb "$pid" VmHWM)
        # CPU per request: robust against other load on the machine, unlike RPS.
        t1=$([ "$pid" = 0 ] && echo 0 || cpu_ticks "$pid")
        n=$(echo "$line" | sed -n 's/.*requests=\([0-9]*\).*/\1/p')
        cpu_us=$(awk -v d=$((t1 - t0)) -v n="${n:-0}" -v hz="$CLK_TCK" 'BEGIN { printf "%.1f", (n > 0 ? d * 1e6 / hz / n : 0) }')
        core=$([ "$pid" = 0 ] && echo "" || core_share "$k0" "$k1" "${n:-0}")
        log "$name c=$c $line hwm=${rss}kB cpu_us_per_req=$cpu_us $core"
        echo "$name $c ${line#RESULT } hwm_kb=$rss cpu_us=$cpu_us $core" >>"$OUT/rows.txt"
        [ "$pid" = 0 ] || echo "$name $c $(switches_per_request "$w0" "$w1" "${n:-0}")" >>"$OUT/switches.txt"
        if [ -n "${LOG_DB:-}" ]; then
            seq1=$(python3 "$HERE/log_latency.py" "$LOG_DB" size)
            line=$(python3 "$HERE/log_latency.py" "$LOG_DB" span "$seq0" "$seq1" | grep '^LOGLAT')
            echo "$name $c ${line#LOGLAT }" >>"$OUT/loglat.txt"
        fi
    done
}
# stream_probe NAME URL BODY [headers...]
stream_probe() {
    local name=$1 url=$2 body=$3
    shift 3
    local line
    line=$(taskset -c "$LOAD_CPU" python3 "$HERE/streams.py" ttfb "$url" "$body" "$TTFB_N" "$@" 2>&1 | grep '^TTFB')
    log "$name stream $line"
    echo "$name ${line#TTFB }" >>"$OUT/stream.txt"
}

# ---- upstream: nginx with canned answers -------------------------------------------------------
start_nginx() {
    local d="$OUT/nginx" json sse
    mkdir -p "$d/tmp"
    json=$(cat "$HERE/completion.json")
    sse=$(cat "$HERE/stream.sse")
    cat >"$d/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $d/nginx.pid;
error_log $d/error.log warn;
events { worker_connections 8192; }
http {
    access_log off;
    client_body_temp_path $d/tmp/body;
    proxy_temp_path $d/tmp/proxy;
    fastcgi_temp_path $d/tmp/fastcgi;
    uwsgi_temp_path $d/tmp/uwsgi;
    scgi_temp_path $d/tmp/scgi;
    keepalive_requests 10000000;
    keepalive_timeout 120s;
    client_body_buffer_size 64k;
    server {
        listen 127.0.0.1:$P_JSON;
        location / { default_type application/json; return 200 '$json'; }
    }
    server {
        listen 127.0.0.1:$P_SSE;
        # \$(cat) dropped the final blank line that ends the last event: put it back
        location / { default_type text/event-stream; return 200 '$sse

'; }
    }
}
EOF
    taskset -c "$LOAD_CPU" "$NGINX" -c "$d/nginx.conf" -p "$d" >"$d/stdout.log" 2>&1 &
    PIDS+=($!)
    wait_port $P_JSON 10 && wait_port $P_SSE 5
}

# ---- the gateway's data directory: fdatasync latency ---------------------------------------------
# The durable log's floor on this host: a call's answer waits for its log entries' fdatasync (one
# flush may carry several calls' entries), so the latency targets are stated in multiples of it. Measured where the gateway's log lives, on the gateway's core.
DATA_DIR="$OUT/auditgate/data"
measure_fsync() {
    local line
    mkdir -p "$DATA_DIR"
    line=$(taskset -c "$GW_CPU" python3 "$HERE/fsync_latency.py" "$DATA_DIR" "$FSYNC_N" "$FSYNC_MAX_S" 2>"$OUT/fsync.log" | grep '^FSYNC')
    [ -n "$line" ] || { note "fdatasync probe failed (see target/load/fsync.log); the targets that need it are n/a"; return 1; }
    log "data dir $line"
    echo "${line#FSYNC }" >"$OUT/fsync.txt"
}

# ---- passthrough: the bare Rust reverse proxy --------------------------------------------------
# One process, two listeners: P_PT forwards to the JSON upstream, P_PT_SSE to the streaming one
# (auditgate picks the upstream by model; the passthrough does not read the body).
start_passthrough() {
    local d="$OUT/passthrough" bin="${PASSTHROUGH_BIN:-$OUT/passthrough-build/release/passthrough}"
    mkdir -p "$d"
    if [ -z "${PASSTHROUGH_BIN:-}" ]; then
        log "building passthrough (cargo build --release, tests/load/passthrough)"
        cargo build --release --manifest-path "$HERE/passthrough/Cargo.toml" --target-dir "$OUT/passthrough-build" \
            >"$d/cargo-build.log" 2>&1 ||
            { note "passthrough: release build failed (see target/load/passthrough/cargo-build.log); skipped"; return 1; }
    fi
    [ -x "$bin" ] || { note "passthrough: no binary at $bin; skipped"; return 1; }
    taskset -c "$GW_CPU" "$bin" "127.0.0.1:$P_PT=http://127.0.0.1:$P_JSON" "127.0.0.1:$P_PT_SSE=http://127.0.0.1:$P_SSE" \
        >"$d/serve.log" 2>&1 &
    PT_PID=$!
    PIDS+=($PT_PID)
    wait_port $P_PT 10 && wait_port $P_PT_SSE 2 ||
        { note "passthrough did not start (see target/load/passthrough/serve.log); skipped"; return 1; }
}

# ---- auditgate ---------------------------------------------------------------------------------
AG_KEY=""
start_auditgate() {
    local d="$OUT/auditgate" bin="${AUDITGATE_BIN:-$ROOT/target/release/auditgate}"
    if [ -z "${AUDITGATE_BIN:-}" ]; then
        log "building auditgate (cargo build --release)"
        (cd "$ROOT" && cargo build --release --bin auditgate >"$OUT/cargo-build.log" 2>&1) ||
            { note "auditgate: release build failed, see target/load/cargo-build.log"; return 1; }
    fi
    rm -rf "$d" && mkdir -p "$d/data"
    cat >"$d/gateway.toml" <<EOF
# Strict configuration: shipped default policy, PII scan (always on), durable audit log with
# signed checkpoints at the shipped settings.
listen = "127.0.0.1:$P_AG"
data_dir = "$d/data"
policy_dir = "$ROOT/policies"
[audit]
origin = "auditgate.bench/log"
checkpoint_interval_ms = 1000
checkpoint_every_entries = 10000
store_bodies = "none"
[[providers]]
name = "bench-json"
kind = "openai"
base_url = "http://127.0.0.1:$P_JSON/v1"
region = "ch"
country = "CH"
zdr = true
[[providers.models]]
id = "bench/json"
upstream = "gpt-4o-mini"
prompt = 0.15
completion = 0.60
[[providers]]
name = "bench-sse"
kind = "openai"
base_url = "http://127.0.0.1:$P_SSE/v1"
region = "ch"
country = "CH"
zdr = true
[[providers.models]]
id = "bench/sse"
upstream = "gpt-4o-mini"
prompt = 0.15
completion = 0.60
[[providers]]
name = "bench-slow"
kind = "openai"
base_url = "http://127.0.0.1:$P_SLOW/v1"
region = "ch"
country = "CH"
zdr = true
[[providers.models]]
id = "bench/slow"
upstream = "slow"
prompt = 0.15
completion = 0.60
EOF
    AG_KEY=$("$bin" keys create --name bench --data-dir "$d/data" 2>>"$d/keys.log" | tail -n 1)
    [ -n "$AG_KEY" ] || { note "auditgate: keys create failed, see $d/keys.log"; return 1; }
    AUDITGATE_LOG=warn taskset -c "$GW_CPU" "$bin" serve --config "$d/gateway.toml" >"$d/serve.log" 2>&1 &
    AG_PID=$!
    PIDS+=($AG_PID)
    wait_port $P_AG 20 || { note "auditgate did not start, see $d/serve.log"; return 1; }
}

# ---- LiteLLM -----------------------------------------------------------------------------------
start_litellm() {
    install_litellm || { note "LiteLLM: could not install litellm[proxy] (see target/load/litellm-install.log); skipped"; return 1; }
    local d="$OUT/litellm"
    mkdir -p "$d"
    cat >"$d/config.yaml" <<EOF
model_list:
  - model_name: bench-json
    litellm_params: { model: openai/gpt-4o-mini, api_base: "http://127.0.0.1:$P_JSON/v1", api_key: sk-upstream }
  - model_name: bench-sse
    litellm_params: { model: openai/gpt-4o-mini, api_base: "http://127.0.0.1:$P_SSE/v1", api_key: sk-upstream }
litellm_settings: { telemetry: false, drop_params: true }
general_settings: { master_key: $MASTER_KEY }
EOF
    LITELLM_LOCAL_MODEL_COST_MAP=True LITELLM_LOG=ERROR LITELLM_MASTER_KEY=$MASTER_KEY \
        taskset -c "$GW_CPU" "$ROOT/target/litellm-venv/bin/litellm" --config "$d/config.yaml" \
        --host 127.0.0.1 --port $P_LITELLM --num_workers 1 >"$d/serve.log" 2>&1 &
    LL_PID=$!
    PIDS+=($LL_PID)
    wait_port $P_LITELLM 120 || { note "LiteLLM did not start within 120 s (see target/load/litellm/serve.log); skipped"; return 1; }
}

# ---- Portkey -----------------------------------------------------------------------------------
start_portkey() {
    install_portkey || { note "Portkey: could not install @portkey-ai/gateway (see target/load/portkey-install.log); skipped"; return 1; }
    local d="$OUT/portkey"
    mkdir -p "$d"
    NODE_ENV=production taskset -c "$GW_CPU" node \
        "$ROOT/target/portkey/node_modules/@portkey-ai/gateway/build/start-server.js" \
        --port=$P_PORTKEY --headless >"$d/serve.log" 2>&1 &
    PK_PID=$!
    PIDS+=($PK_PID)
    wait_port $P_PORTKEY 30 || { note "Portkey did not start (see target/load/portkey/serve.log); skipped"; return 1; }
}
stop_pid() { kill "$1" 2>/dev/null; sleep 1; kill -9 "$1" 2>/dev/null; }
# SIGTERM, then wait up to 30 s for the process to finish its shutdown before SIGKILL.
stop_gracefully() {
    kill "$1" 2>/dev/null
    for _ in $(seq 300); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done
    kill -9 "$1" 2>/dev/null
}

# ---- the run -----------------------------------------------------------------------------------
log "duration ${DURATION}s per shape, shapes: $SHAPES, peers: $PEERS"
start_nginx || { echo "nginx did not start, see $OUT/nginx/error.log" >&2; exit 1; }
measure_fsync
for peer in $PEERS; do
    case $peer in
    direct)
        run_shapes direct "http://127.0.0.1:$P_JSON/v1/chat/completions" "$(body_for gpt-4o-mini)" 0
        stream_probe direct "http://127.0.0.1:$P_SSE/v1/chat/completions" "$(stream_body_for gpt-4o-mini)"
        ;;
    passthrough)
        if start_passthrough; then
            run_shapes passthrough "http://127.0.0.1:$P_PT/v1/chat/completions" "$(body_for gpt-4o-mini)" "$PT_PID"
            stream_probe passthrough "http://127.0.0.1:$P_PT_SSE/v1/chat/completions" "$(stream_body_for gpt-4o-mini)"
            stop_pid "$PT_PID"
        fi
        ;;
    auditgate)
        if start_auditgate; then
            auth="Authorization: Bearer $AG_KEY"
            LOG_DB="$OUT/auditgate/data/log.db" run_shapes auditgate "http://127.0.0.1:$P_AG/v1/chat/completions" \
                "$(body_for bench/json)" "$AG_PID" "$auth"
            # The same at 32 connections with a new last message on every call (the next turn of a
            # conversation): the rows above resend one request, the best case for texts seen before.
            SHAPES=32 FRESH_LAST_MESSAGE=1 run_shapes auditgate-fresh "http://127.0.0.1:$P_AG/v1/chat/completions" \
                "$(body_for bench/json)" "$AG_PID" "$auth"
            stream_probe auditgate "http://127.0.0.1:$P_AG/v1/chat/completions" "$(stream_body_for bench/sse)" "$auth"
            if [ "$SLOW_STREAMS" -gt 0 ]; then
                taskset -c "$LOAD_CPU" python3 "$HERE/slow_upstream.py" $P_SLOW "$SLOW_CHUNKS" 0.25 >"$OUT/slow.log" 2>&1 &
                SLOW_PID=$!
                PIDS+=($SLOW_PID)
                wait_port $P_SLOW 10
                line=$(taskset -c "$LOAD_CPU" python3 "$HERE/streams.py" slow "http://127.0.0.1:$P_AG/v1/chat/completions" \
                    "$(stream_body_for bench/slow)" "$SLOW_STREAMS" "$AG_PID" "$auth" 2>>"$OUT/slow.log" | grep '^SLOW')
                log "auditgate $line"
                echo "${line#SLOW }" >"$OUT/slow.txt"
                stop_pid "$SLOW_PID"
            fi
            # the log the run wrote must verify: stop the gateway first, so that its shutdown
            # signs the last entries (verifying a running log may find a tail not signed yet)
            stop_gracefully "$AG_PID"
            if "${AUDITGATE_BIN:-$ROOT/target/release/auditgate}" verify-log --data-dir "$OUT/auditgate/data" --public-key "$OUT/auditgate/data/signing.pub" >"$OUT/verify.log" 2>&1; then
                note "auditgate: the audit log written during the run verifies ($(grep -c . "$OUT/verify.log") lines of verify-log output, see target/load/verify.log)"
            else
                note "auditgate: verify-log FAILED on the run's log (target/load/verify.log)"
            fi
        fi
        ;;
    litellm)
        if start_litellm; then
            auth="Authorization: Bearer $MASTER_KEY"
            run_shapes litellm "http://127.0.0.1:$P_LITELLM/v1/chat/completions" "$(body_for bench-json)" "$LL_PID" "$auth"
            stream_probe litellm "http://127.0.0.1:$P_LITELLM/v1/chat/completions" "$(stream_body_for bench-sse)" "$auth"
            stop_pid "$LL_PID"
        fi
        ;;
    portkey)
        if start_portkey; then
            h=("x-portkey-provider: openai" "Authorization: Bearer sk-upstream")
            run_shapes portkey "http://127.0.0.1:$P_PORTKEY/v1/chat/completions" "$(body_for gpt-4o-mini)" "$PK_PID" \
                "${h[@]}" "x-portkey-custom-host: http://127.0.0.1:$P_JSON/v1"
            stream_probe portkey "http://127.0.0.1:$P_PORTKEY/v1/chat/completions" "$(stream_body_for gpt-4o-mini)" \
                "${h[@]}" "x-portkey-custom-host: http://127.0.0.1:$P_SSE/v1"
            stop_pid "$PK_PID"
        fi
        ;;
    *) note "unknown peer $peer; skipped" ;;
    esac
done

GW_CPU="$GW_CPU" SLOW_STREAMS="$SLOW_STREAMS" python3 "$HERE/report.py" "$OUT" "$DURATION" | tee "$OUT/results.md"
