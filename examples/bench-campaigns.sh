#!/usr/bin/env bash
# Every campaign-engine figure of BENCHMARKS.md, one scenario after another, against a real
# `irisgate serve` per run (examples/bench_campaigns.rs). RESULT lines go to $OUT.
#
#   examples/bench-campaigns.sh                  # all stores, N = 1,000,000
#   N=200000 STORES="memory sqlite" examples/bench-campaigns.sh
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-1000000}
STORES=${STORES:-memory sqlite postgres}
OUT=${OUT:-bench-results/campaigns-$(date +%Y%m%d-%H%M%S).txt}
mkdir -p "$(dirname "$OUT")"
cargo build --release -q --bin irisgate --example bench_campaigns
B=target/release/examples/bench_campaigns
run() {
  echo "== $* (load: $(cut -d' ' -f1-3 /proc/loadavg))" | tee -a "$OUT"
  "$B" "$@" 2>&1 | grep '^RESULT' | tee -a "$OUT"
}
run full -n 100000
for s in $STORES; do run ingest --store "$s" -n "$N"; done
for s in $STORES; do run dispatch --store "$s" -n "$N"; done
for s in $STORES; do run restart --store "$s" -n "$N"; done
run rest -n "$N"
echo "results in $OUT"
