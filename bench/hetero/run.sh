#!/usr/bin/env bash
# Heterogeneous app tier: 4 origins, one 5x slower than the others. edged runs
# each balancing algorithm in turn in front of the same origins.
#
#   bench/hetero/run.sh [--out FILE] [--data DIR]
#   DURATION=20s CONNECTIONS=64 ROUNDS=3 bench/hetero/run.sh
#   MODE=open RATES="30 60 90" ROUNDS=3 bench/hetero/run.sh
#
# Closed loop (MODE closed or both): wrk measures p50 / p99 / p99.9 of the
# client latency at a fixed connection count, so the request rate follows the
# latency. Open loop (MODE open or both): edgeload sends at fixed rates, RATES
# percent of CAPACITY (default: edgeload's closed-loop req/s straight at the 4
# origins with CONNECTIONS connections spread evenly, no edged), latency from
# each request's intended send time (coordinated omission corrected), and the
# share of responses from the slow target (X-Served-By, per-target breakdown).
# Each round runs every rate and every algorithm, interleaved. Prints Markdown
# tables (also to FILE with --out; --data DIR keeps the raw runs, open.tsv and
# the edgeload JSON). Progress goes to stderr. Exits 1 if any run failed.
#
# Environment (defaults in brackets):
#   MODE [both]  closed (wrk) | open (edgeload) | both
#   DURATION [10s] per run; WARMUP [2s]; CONNECTIONS [32]; THREADS [2] (wrk, edgeload)
#   WORKERS [2] (edged); ROUNDS [1] (algorithms interleaved per round)
#   RATES ["30 60 90"] open-loop rates, % of CAPACITY
#   CAPACITY     req/s the RATES are percentages of [measured, see above]
#   OPEN_CONNECTIONS [4 x CONNECTIONS] edgeload's cap on requests in flight
#   FAST [fixed:2ms] / SLOW [fixed:10ms] origin latency (edge-origin --latency)
#   EDGED, EDGE_ORIGIN, EDGELOAD  binaries [build/release/...]
#   KEEP_TMP=1 keep configs and logs
set -euo pipefail

usage() { sed -n '2,30s/^# \{0,1\}//p' "$0"; }

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
bench_tag=hetero
# shellcheck source=bench/lib.sh
. "$root/bench/lib.sh"
bench_parse_args "$@"
edged="${EDGED:-$root/build/release/edged}"
origin="${EDGE_ORIGIN:-$root/build/release/edge-origin}"
edgeload_bin="${EDGELOAD:-$root/build/release/edgeload}"
mode="${MODE:-both}"
duration="${DURATION:-10s}"
warmup="${WARMUP:-2s}"
connections="${CONNECTIONS:-32}"
threads="${THREADS:-2}"
workers="${WORKERS:-2}"
rounds="${ROUNDS:-1}"
fast="${FAST:-fixed:2ms}"
slow="${SLOW:-fixed:10ms}"
read -ra rates <<<"${RATES:-30 60 90}"
capacity="${CAPACITY:-}"
open_connections="${OPEN_CONNECTIONS:-$((connections * 4))}"
algorithms=(round_robin least_outstanding_requests weighted_random least_latency)
origin_ports=(18101 18102 18103 18104)
proxy_port=18180
slow_id=o3 # --id of the slow origin (the last one)
url="http://127.0.0.1:$proxy_port/"

case "$mode" in closed | open | both) ;; *) die "MODE must be closed, open or both" ;; esac
for b in "$edged" "$origin"; do
  [[ -x "$b" ]] || { echo "run.sh: $b missing (scripts/build release)" >&2; exit 2; }
done
if [[ "$mode" != open ]]; then
  command -v wrk >/dev/null || { echo "run.sh: wrk is required (apt-get install wrk)" >&2; exit 2; }
fi
if [[ "$mode" != closed ]]; then
  [[ -x "$edgeload_bin" ]] || { echo "run.sh: $edgeload_bin missing (scripts/build release --target edgeload)" >&2; exit 2; }
  ((${#rates[@]} > 0)) || die "RATES must not be empty"
  if command -v jq >/dev/null; then
    json_tool=jq
  elif command -v python3 >/dev/null; then
    json_tool=python3
  else
    die "jq or python3 is needed to read edgeload's JSON"
  fi
fi

bench_start hetero
[[ -n "$data_dir" ]] && mkdir -p "$data_dir"
report="$tmp/report.md"
: >"$report"
say() { printf '%s\n' "$*" | tee -a "$report"; }
failed_runs=0

for i in 0 1 2 3; do
  lat="$fast"
  [[ $i == 3 ]] && lat="$slow"
  "$origin" --listen "127.0.0.1:${origin_ports[$i]}" --latency "$lat" --id "o$i" \
    >"$tmp/origin-$i.log" 2>&1 &
  origin_pids+=($!)
done
for i in 0 1 2 3; do
  wait_ok "http://127.0.0.1:${origin_ports[$i]}/" 1024 "${origin_pids[$i]}" ||
    die "origin o$i on port ${origin_ports[$i]} does not answer"
done

write_config() {
  cat >"$tmp/edged-$1.yaml" <<YAML
workers: $workers
admin: off
access_log: { path: "off" }
listeners:
  - name: web
    listen: 127.0.0.1:$proxy_port
    default_action: { forward: { target_group: app } }
target_groups:
  - name: app
    algorithm: $1
    targets: [127.0.0.1:${origin_ports[0]}, 127.0.0.1:${origin_ports[1]}, 127.0.0.1:${origin_ports[2]}, 127.0.0.1:${origin_ports[3]}]
    health_check: { path: /health, interval: 5s, timeout: 2s }
YAML
}
for a in "${algorithms[@]}"; do write_config "$a"; done

start_edged() {
  wait_port_free "$proxy_port" || die "port $proxy_port still in use"
  "$edged" -c "$tmp/edged-$1.yaml" >"$tmp/edged-$1.log" 2>&1 &
  proxy_pid=$!
  wait_ok "$url" 1024 "$proxy_pid" || {
    tail -n 20 "$tmp/edged-$1.log" >&2 || true
    die "edged ($1) does not answer on $url"
  }
}
stop_edged() {
  stop_tree "$proxy_pid"
  proxy_pid=""
}

# ---- closed loop: wrk ----------------------------------------------------------------
# wrk prints the percentiles we want from its Lua `done` hook (µs).
cat >"$tmp/pct.lua" <<'LUA'
done = function(summary, latency, requests)
  io.write(string.format("PCT %d %d %d %d %.0f\n", latency:percentile(50),
    latency:percentile(99), latency:percentile(99.9), summary.requests,
    summary.requests / (summary.duration / 1e6)))
end
LUA

run_one() {
  local algo="$1"
  start_edged "$algo"
  wrk -t"$threads" -c"$connections" -d"$warmup" "$url" >/dev/null 2>&1 || true
  local line
  line="$(wrk -t"$threads" -c"$connections" -d"$duration" -s "$tmp/pct.lua" "$url" | grep '^PCT')" || true
  stop_edged
  if [[ -z "$line" ]]; then
    log "$algo: wrk gave no result"
    failed_runs=$((failed_runs + 1))
    return
  fi
  read -r _ p50 p99 p999 n rps <<<"$line"
  say "$(printf '| %s | %s | %s | %s | %s | %s |' "$algo" "$(ms "$p50")" "$(ms "$p99")" "$(ms "$p999")" "$rps" "$n")"
}

if [[ "$mode" != open ]]; then
  say "origins: 3 x $fast, 1 x $slow; wrk -t$threads -c$connections -d$duration; edged workers: $workers"
  say ""
  say "| algorithm | p50 ms | p99 ms | p99.9 ms | req/s | requests |"
  say "|---|---:|---:|---:|---:|---:|"
  for _ in $(seq "$rounds"); do
    for a in "${algorithms[@]}"; do run_one "$a"; done
  done
fi

[[ "$mode" == closed ]] && {
  [[ -n "$out_file" ]] && cp "$report" "$out_file"
  ((failed_runs == 0)) || exit 1
  exit 0
}

# ---- open loop: edgeload at fixed rates ----------------------------------------------
# summarize FILE: "throughput p50_ns p99_ns p99.9_ns failures responses slow_responses"
summarize() {
  if [[ "$json_tool" == jq ]]; then
    jq -er --arg slow "$slow_id" '[.throughput, .latency_ns.p50, .latency_ns.p99,
      .latency_ns["p99.9"], .failures, .responses,
      ([.per_target[]? | select(.name == $slow) | .responses] | add // 0)]
      | map(tostring) | join(" ")' "$1" 2>/dev/null
  else
    python3 - "$1" "$slow_id" <<'PY' 2>/dev/null
import json, sys
d = json.load(open(sys.argv[1]))
s = sum(t["responses"] for t in d.get("per_target", []) if t["name"] == sys.argv[2])
l = d["latency_ns"]
print(d["throughput"], l["p50"], l["p99"], l["p99.9"], d["failures"], d["responses"], s)
PY
  fi
}

if [[ -z "$capacity" ]]; then
  log "capacity: edgeload closed loop, $connections connections straight at the 4 origins"
  "$edgeload_bin" -q --json -t "$threads" -c "$connections" -w "$warmup" -d "$duration" \
    --config "$tmp/edged-round_robin.yaml" --target-group app >"$tmp/capacity.json" 2>"$tmp/capacity.err" ||
    die "edgeload capacity run failed: $(tail -n 3 "$tmp/capacity.err")"
  read -r capacity _ <<<"$(summarize "$tmp/capacity.json")" || die "no throughput in $tmp/capacity.json"
  capacity_how="edgeload closed loop, -c$connections straight at the 4 origins, no edged"
else
  capacity_how="CAPACITY"
fi
log "capacity $capacity req/s"

open_tsv="$tmp/open.tsv" # pct rate algo round rps p50_ns p99_ns p99.9_ns failures responses slow
: >"$open_tsv"
measure_open() {
  local algo="$1" pct="$2" rate="$3" round="$4" out line
  out="$tmp/open-$algo-$pct-$round.json"
  start_edged "$algo"
  "$edgeload_bin" -q --json -t "$threads" -c "$open_connections" -R "$rate" -w "$warmup" \
    -d "$duration" --target-header X-Served-By "$url" >"$out" 2>"$out.err" || true
  stop_edged
  if ! line="$(summarize "$out")"; then
    log "$algo at $rate req/s: edgeload failed: $(tail -n 3 "$out.err" 2>/dev/null)"
    failed_runs=$((failed_runs + 1))
    return
  fi
  printf '%s\t%s\t%s\t%s\t%s\n' "$pct" "$rate" "$algo" "$round" "${line// /$'\t'}" >>"$open_tsv"
  local rps p50 p99 p999 errors reqs slow_n
  read -r rps p50 p99 p999 errors reqs slow_n <<<"$line"
  log "$(printf 'round %s %3s%% = %6s req/s %-27s done %6s  p50 %s  p99 %s  p99.9 %s ms  errors %s  slow %s/%s' \
    "$round" "$pct" "$rate" "$algo" "$rps" "$(ms $((p50 / 1000)))" "$(ms $((p99 / 1000)))" \
    "$(ms $((p999 / 1000)))" "$errors" "$slow_n" "$reqs")"
}

for ((round = 1; round <= rounds; round++)); do
  for pct in "${rates[@]}"; do
    rate="$(awk -v c="$capacity" -v p="$pct" 'BEGIN { printf "%.0f", c * p / 100 }')"
    for a in "${algorithms[@]}"; do measure_open "$a" "$pct" "$rate" "$round"; done
  done
done

# col PCT ALGO COLUMN: the values of one column of open.tsv, one per round
col() { awk -F'\t' -v p="$1" -v a="$2" -v c="$3" '$1 == p && $3 == a { print $c }' "$open_tsv"; }
[[ "$mode" == both ]] && say ""
say "open loop: capacity $capacity req/s ($capacity_how); rates % of it; edgeload -t$threads -c$open_connections -R RATE -w$warmup -d$duration --target-header X-Served-By; slow target $slow_id; median of $rounds round(s)"
say ""
say "| rate | algorithm | offered req/s | achieved req/s | p50 ms | p99 ms | p99.9 ms | errors | slow target % |"
say "|---:|---|---:|---:|---:|---:|---:|---:|---:|"
for pct in "${rates[@]}"; do
  rate="$(awk -v c="$capacity" -v p="$pct" 'BEGIN { printf "%.0f", c * p / 100 }')"
  for a in "${algorithms[@]}"; do
    [[ -n "$(col "$pct" "$a" 5)" ]] || { say "| $pct % | $a | $rate | failed | | | | | |"; continue; }
    share="$(awk -F'\t' -v p="$pct" -v a="$a" '$1 == p && $3 == a && $10 > 0 { print 100 * $11 / $10 }' "$open_tsv" | median)"
    say "$(printf '| %s %% | %s | %s | %s | %s | %s | %s | %s | %s |' "$pct" "$a" "$rate" \
      "$(fmt "$(col "$pct" "$a" 5 | median)" '%.0f')" \
      "$(ms "$(col "$pct" "$a" 6 | median | awk '{ print $1 / 1000 }')")" \
      "$(ms "$(col "$pct" "$a" 7 | median | awk '{ print $1 / 1000 }')")" \
      "$(ms "$(col "$pct" "$a" 8 | median | awk '{ print $1 / 1000 }')")" \
      "$(col "$pct" "$a" 9 | awk '{ e += $1 } END { print e + 0 }')" \
      "$(fmt "$share" '%.1f')")"
  done
done

[[ -n "$out_file" ]] && cp "$report" "$out_file"
[[ -n "$data_dir" ]] && cp "$open_tsv" "$tmp"/open-*.json "$data_dir"/ 2>/dev/null
((failed_runs == 0)) || exit 1
