#!/usr/bin/env bash
# edgeload checked against wrk on this machine (not a ctest: it needs wrk and time).
#
#   bench/edgeload/validate.sh [--out FILE]
#
# 1. Throughput: the same closed-loop run (THREADS threads, CONNECTIONS
#    connections, DURATION) against one edge-origin, with wrk and edgeload
#    alternating for ROUNDS rounds. Reports each tool's req/s, their ratio per
#    round, and each tool's own CPU time per request (user+sys from /proc), which
#    shows whether the load generator itself is the bottleneck.
# 2. Stall: the origin pauses for STALL (1 s) in the middle of a STALL_DURATION run.
#    wrk (closed loop, the only mode it has) and edgeload open loop at STALL_RATE
#    req/s each run once; the report gives both tools' p50/p99/p99.9/max.
#    edgeload charges every request from its intended send time, so its p99 shows
#    the stall; wrk stops sending while its connections are stuck and only estimates
#    the missing samples afterwards (its stats_correct back-fill). edgeload's
#    uncorrected service time is given too.
#
# Environment: ROUNDS [3] DURATION [10s] CONNECTIONS [64] THREADS [2]
#   STALL [1000, ms] STALL_RATE [2000] STALL_DURATION [10s] PORT [18101]
#   EDGELOAD EDGE_ORIGIN (binaries, default build/release), SKIP_BUILD=1
set -euo pipefail

usage() { sed -n '2,21s/^# \{0,1\}//p' "$0"; }
out_file=""
while (($#)); do
  case "$1" in
    --out) out_file="${2:?--out needs a file}"; shift ;;
    -h | --help) usage; exit 0 ;;
    *) echo "validate.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
  shift
done

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
rounds="${ROUNDS:-3}"
duration="${DURATION:-10s}"
connections="${CONNECTIONS:-64}"
threads="${THREADS:-2}"
stall_ms="${STALL:-1000}"
stall_rate="${STALL_RATE:-2000}"
stall_duration="${STALL_DURATION:-10s}"
port="${PORT:-18101}"
edgeload_bin="${EDGELOAD:-$root/build/release/edgeload}"
origin_bin="${EDGE_ORIGIN:-$root/build/release/edge-origin}"
clk_tck="$(getconf CLK_TCK)"
log() { echo "[validate] $*" >&2; }
die() { echo "[validate] error: $*" >&2; exit 1; }

command -v wrk >/dev/null || "$root/scripts/bootstrap" --bench
command -v wrk >/dev/null || die "wrk not installed"
if [[ "${SKIP_BUILD:-0}" != 1 && -z "${EDGELOAD:-}${EDGE_ORIGIN:-}" ]]; then
  "$root/scripts/build" release --target edgeload --target edge-origin >&2
fi
[[ -x "$edgeload_bin" && -x "$origin_bin" ]] || die "build edgeload and edge-origin first"

tmp="$(mktemp -d "${TMPDIR:-/tmp}/edgeload-validate.XXXXXX")"
origin_pid=""
cleanup() {
  [[ -n "$origin_pid" ]] && kill "$origin_pid" 2>/dev/null && wait "$origin_pid" 2>/dev/null
  if [[ "${KEEP_TMP:-0}" == 1 ]]; then log "kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT

url="http://127.0.0.1:$port/"
"$origin_bin" --listen "127.0.0.1:$port" --threads 1 --id origin >"$tmp/origin.log" 2>&1 &
origin_pid=$!
for _ in $(seq 50); do curl -sf -o /dev/null "$url" && break; sleep 0.1; done
curl -sf -o /dev/null "$url" || die "edge-origin did not start"

# cpu_of PID: utime+stime ticks of a (finished or running) process, from /proc.
# The tool runs in the background; its ticks are read just before it exits via
# its parent's wait: we sample /proc/PID/stat while it runs, last sample wins.
run_measured() { # OUTFILE CMD... -> prints "ticks"
  local out="$1"
  shift
  "$@" >"$out" 2>"$out.err" &
  local pid=$! ticks=0 line rest
  local -a f
  while kill -0 "$pid" 2>/dev/null; do
    if line="$(cat "/proc/$pid/stat" 2>/dev/null)"; then
      rest="${line##*) }"
      read -ra f <<<"$rest"
      ticks=$((f[11] + f[12]))
    fi
    sleep 0.2
  done
  wait "$pid" || true
  echo "$ticks"
}

# wrk output -> "requests rps p50_us p99_us"
parse_wrk() {
  awk '
    function us(v) {
      if (v ~ /us$/) return v + 0
      if (v ~ /ms$/) return (v + 0) * 1000
      if (v ~ /s$/) return (v + 0) * 1e6
      return v + 0 }
    $1 == "50%" { p50 = us($2) } $1 == "99%" { p99 = us($2) }
    $1 == "Latency" && NF >= 5 { max = us($4) }
    $2 == "requests" && $3 == "in" { reqs = $1 }
    $1 == "Requests/sec:" { rps = $2 }
    END { printf "%d %.1f %.0f %.0f %.0f\n", reqs, rps, p50, p99, max }' "$1"
}
# edgeload --json -> "requests rps p50_us p99_us p999_us max_us svc_p99_us"
parse_edgeload() {
  jq -r '[.responses, .throughput, (.latency_ns.p50/1000|floor), (.latency_ns.p99/1000|floor),
          (.latency_ns["p99.9"]/1000), (.latency_ns.max/1000), (.service_time_ns.p99/1000)]
         | map(tostring) | join(" ")' "$1"
}
cpu_us() { awk -v t="$1" -v hz="$clk_tck" -v n="$2" 'BEGIN { printf "%.2f", n ? t / hz * 1e6 / n : 0 }'; }

# ---- 1. throughput ----------------------------------------------------------------
rows=()
for ((r = 1; r <= rounds; r++)); do
  log "round $r: wrk"
  t="$(run_measured "$tmp/wrk-$r.txt" wrk -t"$threads" -c"$connections" -d"$duration" --latency "$url")"
  read -r wreq wrps wp50 wp99 _ < <(parse_wrk "$tmp/wrk-$r.txt")
  wcpu="$(cpu_us "$t" "$wreq")"
  log "round $r: edgeload"
  t="$(run_measured "$tmp/el-$r.json" "$edgeload_bin" -t "$threads" -c "$connections" -d "$duration" --json -q "$url")"
  read -r ereq erps ep50 ep99 _ _ _ < <(parse_edgeload "$tmp/el-$r.json")
  ecpu="$(cpu_us "$t" "$ereq")"
  ratio="$(awk -v a="$erps" -v b="$wrps" 'BEGIN { printf "%.3f", a / b }')"
  log "round $r: wrk $wrps req/s ($wcpu CPU us/req), edgeload $erps req/s ($ecpu CPU us/req), ratio $ratio"
  rows+=("| $r | $wrps | $erps | $ratio | $wp50 / $wp99 | $ep50 / $ep99 | $wcpu | $ecpu |")
done

# ---- 2. stall ---------------------------------------------------------------------
stall_at() { # after SECONDS: POST /pause
  sleep "$1"
  curl -sf -X POST -o /dev/null "http://127.0.0.1:$port/pause/$stall_ms" || true
}
half="$(awk -v d="${stall_duration%s}" 'BEGIN { print d / 2 }')"
log "stall: wrk closed loop, origin pauses ${stall_ms} ms after ${half}s"
stall_at "$half" &
stall_pid=$!
wrk -t"$threads" -c"$connections" -d"$stall_duration" --latency "$url" >"$tmp/wrk-stall.txt" 2>&1
wait "$stall_pid"
read -r sreq _ sp50 sp99 smax < <(parse_wrk "$tmp/wrk-stall.txt")
log "stall: edgeload open loop at $stall_rate req/s"
stall_at "$half" &
stall_pid=$!
"$edgeload_bin" -t "$threads" -c "$connections" -R "$stall_rate" -d "$stall_duration" --json -q "$url" \
  >"$tmp/el-stall.json"
wait "$stall_pid"
read -r ereq erps ep50 ep99 ep999 emax esvc99 < <(parse_edgeload "$tmp/el-stall.json")

ms() { awk -v v="$1" 'BEGIN { printf "%.2f", v / 1000 }'; }
report="$tmp/report.md"
{
  echo "### edgeload vs wrk — $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git -C "$root" rev-parse --short HEAD)"
  echo
  echo "Machine: $(nproc) CPUs ($(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)), shared with other work; load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)."
  echo "Target: one \`edge-origin --threads 1\` (1 KiB responses) on loopback; $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2)."
  echo
  echo "Closed loop, \`wrk -t$threads -c$connections -d$duration\` vs \`edgeload -t $threads -c $connections -d $duration\`, alternating:"
  echo
  echo "| round | wrk req/s | edgeload req/s | edgeload/wrk | wrk p50/p99 µs | edgeload p50/p99 µs | wrk CPU µs/req | edgeload CPU µs/req |"
  echo "|---:|---:|---:|---:|---:|---:|---:|---:|"
  printf '%s\n' "${rows[@]}"
  echo
  echo "Stall: the origin pauses ${stall_ms} ms in the middle of a $stall_duration run:"
  echo
  echo "| tool | requests | p50 ms | p99 ms | max ms |"
  echo "|---|---:|---:|---:|---:|"
  echo "| wrk (closed loop, $connections connections) | $sreq | $(ms "$sp50") | $(ms "$sp99") | $(ms "$smax") |"
  echo "| edgeload open loop at $stall_rate/s, from intended send time | $ereq | $(ms "$ep50") | $(ms "$ep99") | $(ms "$emax") |"
  echo "| edgeload, same run, service time (uncorrected) | $ereq | — | $(ms "$esvc99") | — |"
  echo
  echo "edgeload p99.9 in the stall run: $(ms "$ep999") ms."
} >"$report"
cat "$report"
[[ -n "$out_file" ]] && cp "$report" "$out_file"
exit 0
