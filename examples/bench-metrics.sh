#!/usr/bin/env bash
# The cost of metrics (issue 13): the WebSocket `get /ping` rate of two gateways that differ only
# in `[metrics] listen` (on / "" = off), driven in turn by examples/load.rs at C=64 K=16, REPS
# interleaved rounds of DUR seconds, each after the machine is quiet; then the time of
# `GET /metrics` on a gateway with 10 tenants and 1,000 campaigns (SQLite), SCRAPES scrapes.
# Both on the default SQLite store, each in its own file under $OUT.
#
#   examples/bench-metrics.sh                 # REPS=3 DUR=5 SCRAPES=50
#   SKIP_BUILD=1 QUIET_WAIT=10 examples/bench-metrics.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
REPS=${REPS:-3} DUR=${DUR:-5} C=${C:-64} K=${K:-16} SCRAPES=${SCRAPES:-50}
QUIET_WAIT=${QUIET_WAIT:-120}
OUT=${OUT:-$ROOT/target/bench-metrics/$(date +%Y%m%d-%H%M%S)}
PORT_ON=${PORT_ON:-18580} PORT_OFF=${PORT_OFF:-18581} PORT_BIG=${PORT_BIG:-18582}
METRICS_ON=${METRICS_ON:-18590} METRICS_BIG=${METRICS_BIG:-18591}
LOAD=$ROOT/target/release/examples/load
GW=$ROOT/target/release/irisgate

# < 0.15 busy cores over 0.5 s (as ../shared/bench/scripts/lib.sh wait_quiet), at most QUIET_WAIT s.
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
  for _ in $(seq 1 $((QUIET_WAIT * 2))); do
    BUSY=$(busy_cores)
    python3 -c "import sys; sys.exit(0 if $BUSY < 0.15 else 1)" && return 0
  done
  echo "  (machine still busy after $QUIET_WAIT s: $BUSY cores; going on)" >&2
}

if [ "${SKIP_BUILD:-0}" != 1 ]; then
  cargo build --release -q --bin irisgate --example load
fi
mkdir -p "$OUT"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

# config NAME METRICS-LISTEN [EXTRA]: the example workspace on its own SQLite file.
config() {
  { cat irisgate.example.toml
    printf '\n%s\n' "${3:-}"
    printf '\n[storage]\nkind = "sqlite"\npath = "%s/%s.db"\n\n[metrics]\nlisten = "%s"\n' "$OUT" "$1" "$2"
  } > "$OUT/$1.toml"
  echo "$OUT/$1.toml"
}
start() {
  local name=$1 port=$2 cfg=$3
  RUST_LOG=warn "$GW" serve --config "$cfg" --listen 127.0.0.1:"$port" > "$OUT/$name.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 1 200); do
    (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null && return 0
    sleep 0.05
  done
  echo "$name did not start on port $port (see $OUT/$name.log)" >&2
  exit 1
}

start on $PORT_ON "$(config on 127.0.0.1:$METRICS_ON)"
start off $PORT_OFF "$(config off "")"
echo "# $(date -u '+%F %T UTC'), load average $(cut -d' ' -f1-3 /proc/loadavg), REPS=$REPS DUR=$DUR C=$C K=$K -> $OUT" | tee "$OUT/meta.txt"
: > "$OUT/ping.jsonl"
for rep in $(seq 1 "$REPS"); do
  for cell in on off; do
    port=PORT_${cell^^}
    wait_quiet
    line=$("$LOAD" ws --url "ws://127.0.0.1:${!port}/" -c "$C" -k "$K" -d "$DUR" --command ping | grep '^RESULT ' | cut -c8-)
    echo "{\"rep\":$rep,\"metrics\":\"$cell\",\"result\":$line}" >> "$OUT/ping.jsonl"
    python3 -c "import json,sys; r=json.loads(sys.argv[1]); print(f'  rep $rep metrics $cell: {r[\"rate\"]:9.0f}/s p99 {r[\"p99_us\"]/1e3:.2f} ms errors {r[\"errors\"]}')" "$line"
  done
done
python3 - "$OUT/ping.jsonl" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
med = {m: statistics.median(r["result"]["rate"] for r in rows if r["metrics"] == m) for m in ("on", "off")}
print(f"WS get /ping medians: metrics on {med['on']:.0f}/s, off {med['off']:.0f}/s, ratio {med['on'] / med['off']:.3f}")
PY
kill "${PIDS[@]}" 2>/dev/null || true; wait 2>/dev/null || true; PIDS=()

# 10 tenants (the example's and nine more), 100 draft campaigns each.
EXTRA=""
for t in $(seq 1 9); do
  EXTRA+=$(printf '\n[[tenants]]\nidentifier = "bot%s"\naccess_key = "c2VjcmV0"\napi_keys = ["wk_bench_%s"]\nfeatures = ["campaigns"]\nmax_commands_per_second = 1000000\n\n[[tenants.channels]]\nid = "channel_123"\ntype = "whatsapp"\nprovider = "simulator"\ndefault = true\n' "$t" "$t")
done
start big $PORT_BIG "$(config big 127.0.0.1:$METRICS_BIG "$EXTRA")"
for key in wk_test_123 $(for t in $(seq 1 9); do echo wk_bench_$t; done); do
  for i in $(seq 1 100); do
    curl -sf -o /dev/null -H "x-api-key: $key" -H 'content-type: application/json' \
      -d "{\"name\":\"bench $i\",\"message_type\":\"TEXT\",\"channel_id\":\"channel_123\",\"content\":{\"type\":\"text\",\"text\":{\"body\":\"Oi\"}}}" \
      "http://127.0.0.1:$PORT_BIG/api/v1/campaigns"
  done
done
wait_quiet
for _ in $(seq 1 "$SCRAPES"); do
  curl -sf -o "$OUT/scrape.txt" -w '%{time_total}\n' "http://127.0.0.1:$METRICS_BIG/metrics"
done > "$OUT/scrape_times.txt"
python3 - "$OUT/scrape_times.txt" "$OUT/scrape.txt" <<'PY'
import statistics, sys
t = sorted(float(x) * 1e3 for x in open(sys.argv[1]))
campaigns = sum(float(l.rsplit(" ", 1)[1]) for l in open(sys.argv[2]) if l.startswith("irisgate_campaigns{"))
print(f"GET /metrics with 10 tenants, {campaigns:.0f} campaigns in the gauge: {len(t)} scrapes, "
      f"median {statistics.median(t):.2f} ms, p95 {t[int(len(t) * 0.95) - 1]:.2f} ms, max {t[-1]:.2f} ms")
PY
