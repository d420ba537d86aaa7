#!/usr/bin/env bash
# Heterogeneous app tier: 4 origins, one 5x slower than the others. edged runs
# each balancing algorithm in turn in front of the same origins and wrk measures
# p50 / p99 / p99.9 of the client latency. Prints a Markdown table.
#
#   bench/hetero/run.sh
#   DURATION=20s CONNECTIONS=64 ROUNDS=3 bench/hetero/run.sh
#
# Environment:
#   DURATION [10s] per run; WARMUP [2s]; CONNECTIONS [32]; THREADS [2] (wrk)
#   WORKERS [2] (edged); ROUNDS [1] (algorithms interleaved per round)
#   FAST [fixed:2ms] / SLOW [fixed:10ms] origin latency (edge-origin --latency)
#   EDGED, EDGE_ORIGIN  binaries [build/release/edged, build/release/edge-origin]
#
# wrk is closed-loop (each connection waits for its response): at a fixed
# connection count the request rate follows the latency. The load-harness
# issue brings open-loop load at a fixed rate; until then this is the measure.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
edged="${EDGED:-$root/build/release/edged}"
origin="${EDGE_ORIGIN:-$root/build/release/edge-origin}"
duration="${DURATION:-10s}"
warmup="${WARMUP:-2s}"
connections="${CONNECTIONS:-32}"
threads="${THREADS:-2}"
workers="${WORKERS:-2}"
rounds="${ROUNDS:-1}"
fast="${FAST:-fixed:2ms}"
slow="${SLOW:-fixed:10ms}"
algorithms=(round_robin least_outstanding_requests weighted_random least_latency)
ports=(18101 18102 18103 18104)

command -v wrk >/dev/null || { echo "run.sh: wrk is required (apt-get install wrk)" >&2; exit 2; }
for b in "$edged" "$origin"; do
  [[ -x "$b" ]] || { echo "run.sh: $b missing (scripts/build release)" >&2; exit 2; }
done

work="$(mktemp -d)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

for i in 0 1 2 3; do
  lat="$fast"
  [[ $i == 3 ]] && lat="$slow"
  "$origin" --listen "127.0.0.1:${ports[$i]}" --latency "$lat" --id "o$i" >/dev/null 2>&1 &
  pids+=($!)
done

# wrk prints the percentiles we want from its Lua `done` hook (µs).
cat >"$work/pct.lua" <<'LUA'
done = function(summary, latency, requests)
  io.write(string.format("PCT %d %d %d %d %.0f\n", latency:percentile(50),
    latency:percentile(99), latency:percentile(99.9), summary.requests,
    summary.requests / (summary.duration / 1e6)))
end
LUA

run_one() {
  local algo="$1"
  cat >"$work/edged.yaml" <<YAML
workers: $workers
admin: off
access_log: { path: "off" }
listeners:
  - name: web
    listen: 127.0.0.1:18180
    default_action: { forward: { target_group: app } }
target_groups:
  - name: app
    algorithm: $algo
    targets: [127.0.0.1:${ports[0]}, 127.0.0.1:${ports[1]}, 127.0.0.1:${ports[2]}, 127.0.0.1:${ports[3]}]
    health_check: { path: /health, interval: 5s, timeout: 2s }
YAML
  "$edged" -c "$work/edged.yaml" >"$work/edged.log" 2>&1 &
  local ep=$!
  for _ in $(seq 100); do
    curl -fs -o /dev/null http://127.0.0.1:18180/ 2>/dev/null && break
    sleep 0.05
  done
  wrk -t"$threads" -c"$connections" -d"$warmup" http://127.0.0.1:18180/ >/dev/null 2>&1 || true
  local line
  line="$(wrk -t"$threads" -c"$connections" -d"$duration" -s "$work/pct.lua" \
          http://127.0.0.1:18180/ | grep '^PCT')"
  kill -TERM "$ep"; wait "$ep" 2>/dev/null || true
  read -r _ p50 p99 p999 n rps <<<"$line"
  printf '| %s | %.2f | %.2f | %.2f | %s | %s |\n' "$algo" \
    "$(echo "$p50 / 1000" | bc -l)" "$(echo "$p99 / 1000" | bc -l)" \
    "$(echo "$p999 / 1000" | bc -l)" "$rps" "$n"
}

echo "origins: 3 x $fast, 1 x $slow; wrk -t$threads -c$connections -d$duration; edged workers: $workers"
echo
echo "| algorithm | p50 ms | p99 ms | p99.9 ms | req/s | requests |"
echo "|---|---:|---:|---:|---:|---:|"
for _ in $(seq "$rounds"); do
  for a in "${algorithms[@]}"; do run_one "$a"; done
done
