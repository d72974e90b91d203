#!/usr/bin/env bash
# The gateway's transports against the bare ones, in the same run: echo-ws and echo-http
# (../shared/bench, parse + reply, not --raw) and `irisgate serve`, each driven by
# examples/load.rs at C=64 (WebSocket K=16, HTTP one in flight per connection), `get /ping`
# and an unknown URI (failure 62) on the gateway. Cells run interleaved, REPS rounds of DUR
# seconds, each after the machine is quiet; prints a markdown table of medians.
#
#   examples/bench-transport.sh                  # REPS=3 DUR=5 C=64 K=16
#   REPS=5 DUR=3 examples/bench-transport.sh
#   SKIP_BUILD=1 CROSS_CHECK=0 QUIET_WAIT=10 examples/bench-transport.sh
#   BEFORE=/tmp/irisgate-old examples/bench-transport.sh   # adds the ping cells of another build
#
# CROSS_CHECK=1 (default) also runs the shared `load` tool against the gateway (WS ping) once
# per round, to show that our driver is not the bottleneck. Raw results: $OUT/results.jsonl.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BENCH=${BENCH:-$ROOT/../shared/bench}
BENCH_TARGET=${BENCH_TARGET:-$ROOT/../bench-target}
REPS=${REPS:-3} DUR=${DUR:-5} WARMUP=${WARMUP:-1} C=${C:-64} K=${K:-16}
CROSS_CHECK=${CROSS_CHECK:-1}
OUT=${OUT:-$ROOT/target/bench-transport/$(date +%Y%m%d-%H%M%S)}
PORT_GW=${PORT_GW:-18480} PORT_EWS=${PORT_EWS:-18481} PORT_EHTTP=${PORT_EHTTP:-18482}

# Wait until the machine is quiet (< 0.15 busy cores over 0.5 s, as ../shared/bench/scripts/lib.sh
# wait_quiet), at most QUIET_WAIT seconds (default 120); the busy level each run started at is
# kept in the results (`busy_before`), so that disturbed runs can be told apart.
QUIET_WAIT=${QUIET_WAIT:-120}
busy_cores() {
  python3 - <<'PY'
import time
def s():
    f = [int(x) for x in open('/proc/stat').readline().split()[1:9]]
    return sum(f), f[3] + f[4]
t0, i0 = s(); time.sleep(0.5); t1, i1 = s()
print(f"{((t1 - t0) - (i1 - i0)) / 100 / 0.5:.2f}")
PY
}
wait_quiet() {
  local i
  for i in $(seq 1 $((QUIET_WAIT * 2))); do
    BUSY=$(busy_cores)
    python3 -c "import sys; sys.exit(0 if $BUSY < 0.15 else 1)" && return 0
  done
  echo "  (machine still busy after $QUIET_WAIT s: $BUSY cores; going on)" >&2
}
EB=$BENCH_TARGET/release
LOAD=$ROOT/target/release/examples/load
GW=$ROOT/target/release/irisgate

if [ "${SKIP_BUILD:-0}" != 1 ]; then
  CARGO_TARGET_DIR=$BENCH_TARGET cargo build --release -q --manifest-path "$BENCH/Cargo.toml"
  cargo build --release -q --bin irisgate --example load
fi
mkdir -p "$OUT"
RESULTS=$OUT/results.jsonl
: > "$RESULTS"

PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

# start NAME PORT CMD... -> sets PID_<NAME>
start() {
  local name=$1 port=$2; shift 2
  "$@" > "$OUT/$name.log" 2>&1 &
  PIDS+=($!)
  printf -v "PID_$name" %s $!
  for _ in $(seq 1 200); do
    (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null && return 0
    sleep 0.05
  done
  echo "$name did not start on port $port (see $OUT/$name.log)" >&2
  exit 1
}
start echo_ws $PORT_EWS "$EB/echo-ws" $PORT_EWS
start echo_http $PORT_EHTTP "$EB/echo-http" $PORT_EHTTP
RUST_LOG=warn start gateway $PORT_GW "$GW" serve --listen 127.0.0.1:$PORT_GW

# BEFORE=path/to/an/older/irisgate adds its ping cells ("gateway-before"), for a before/after.
if [ -n "${BEFORE:-}" ]; then
  RUST_LOG=warn start before $((PORT_GW + 10)) "$BEFORE" serve --listen 127.0.0.1:$((PORT_GW + 10))
fi

WS_GW=ws://127.0.0.1:$PORT_GW/ HTTP_GW=http://127.0.0.1:$PORT_GW/commands
# label server-pid load-args...
CELLS=(
  "ws echo|$PID_echo_ws|ws --url ws://127.0.0.1:$PORT_EWS/ --no-handshake -k $K"
  "ws gateway ping|$PID_gateway|ws --url $WS_GW -k $K --command ping"
  "ws gateway unknown|$PID_gateway|ws --url $WS_GW -k $K --command unknown"
  "http echo|$PID_echo_http|http --url http://127.0.0.1:$PORT_EHTTP/commands"
  "http gateway ping|$PID_gateway|http --url $HTTP_GW --command ping"
  "http gateway unknown|$PID_gateway|http --url $HTTP_GW --command unknown"
)
if [ -n "${BEFORE:-}" ]; then
  CELLS+=("ws gateway-before ping|$PID_before|ws --url ws://127.0.0.1:$((PORT_GW + 10))/ -k $K --command ping"
    "http gateway-before ping|$PID_before|http --url http://127.0.0.1:$((PORT_GW + 10))/commands --command ping")
fi

# The shared tool's session preamble and a ping body, for the cross-check.
PREAMBLE=$OUT/preamble.json
printf '[{"state":"new"},{"id":"{{session.id}}","from":"mybot@msging.net/xcheck","state":"authenticating","scheme":"key","authentication":{"key":"%s"}}]\n' \
  "$(printf secret | base64)" > "$PREAMBLE"
PING=$OUT/ping.json
echo '{"id":"{{id}}","to":"postmaster@msging.net","method":"get","uri":"/ping"}' > "$PING"

# show RESULT-JSON REP: one line per run.
show() {
  python3 - "$1" "$2" <<'PY'
import json, sys
r = json.loads(sys.argv[1])
cpu = r.get("server_cpu_us_per_cmd") or (r.get("server_cpu") or 0) * 1e6 / max(r["rate"], 1)
print(f"  rep {sys.argv[2]} {r['label']:<38} {r['rate']:>9.0f}/s  p50 {r['p50_us']/1e3:5.2f} ms"
      f"  p99 {r['p99_us']/1e3:5.2f} ms  server {cpu:5.2f} µs/cmd  errors {r['errors']}")
PY
}

echo "# $(date -u '+%F %T UTC'), load average $(cut -d' ' -f1-3 /proc/loadavg), REPS=$REPS DUR=$DUR C=$C K=$K -> $OUT" | tee "$OUT/meta.txt"
for rep in $(seq 1 "$REPS"); do
  for cell in "${CELLS[@]}"; do
    IFS='|' read -r label pid cmd <<<"$cell"
    wait_quiet
    # shellcheck disable=SC2086
    out=$("$LOAD" $cmd -c "$C" -d "$DUR" --warmup "$WARMUP" --server-pid "$pid" --label "$label") || true
    line=$(grep '^RESULT ' <<<"$out" | sed 's/^RESULT //')
    if [ -z "$line" ]; then echo "  $label: no result: $out" >&2; continue; fi
    line=$(python3 -c 'import json,sys; r=json.loads(sys.argv[1]); r["busy_before"]=float(sys.argv[2]); print(json.dumps(r))' "$line" "$BUSY")
    echo "$line" >> "$RESULTS"
    show "$line" "$rep"
  done
  if [ "$CROSS_CHECK" = 1 ]; then
    wait_quiet
    out=$("$EB/load" ws --url "$WS_GW" -c "$C" -k "$K" -d "$DUR" --warmup "$WARMUP" --body "$PING" \
      --preamble "$PREAMBLE" --server-pid "$PID_gateway" --label "xcheck: shared load, ws gateway ping" 2>&1) || true
    line=$(grep '^RESULT ' <<<"$out" | sed 's/^RESULT //')
    if [ -n "$line" ]; then
      echo "$line" >> "$RESULTS"
      show "$line" "$rep"
    else
      echo "  cross-check: no result: $out" >&2
    fi
  fi
done
echo "# finished $(date -u '+%T UTC'), load average $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT/meta.txt"

python3 - "$RESULTS" <<'PY' | tee "$OUT/table.md"
import json, statistics as st, sys
from collections import defaultdict
rows = defaultdict(list)
for line in open(sys.argv[1]):
    r = json.loads(line)
    rows[r['label']].append(r)
for r in (r for rs in rows.values() for r in rs):  # the shared tool reports server cores, not µs/command
    if "server_cpu_us_per_cmd" not in r:
        r['server_cpu_us_per_cmd'] = r["server_cpu"] * 1e6 / r['rate'] if r.get("server_cpu") and r['rate'] else None
med = lambda label, key: st.median(r[key] or 0 for r in rows[label]) if rows[label] else None
print("\n| cell | runs | commands/s | p50 | p99 | server CPU/command | errors | vs echo (goal ≥ 0.70) | p99 < 10 ms |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---|")
for label in rows:
    rate, p50, p99 = med(label, "rate"), med(label, "p50_us"), med(label, "p99_us")
    cpu = med(label, "server_cpu_us_per_cmd")
    echo = label.split()[0] + " echo"
    ratio = f"{rate / med(echo, 'rate'):.2f}" if "gateway" in label and "xcheck" not in label and rows[echo] else "—"
    errors = sum(r['errors'] for r in rows[label])
    cpu = f"{cpu:.2f} µs" if cpu else "—"
    ok = "yes" if p99 < 10_000 else "no"
    print(f"| {label} | {len(rows[label])} | {rate:,.0f} | {p50/1e3:.2f} ms | {p99/1e3:.2f} ms | {cpu} | {errors} | {ratio} | {ok} |")
PY
