#!/usr/bin/env bash
# Side-by-side end-to-end benchmark: edged, nginx, HAProxy (and Varnish) in
# front of the same two origins, loaded by wrk (closed loop) and optionally by
# edgeload at fixed rates (open loop), over loopback.
#
#   bench/e2e/run.sh [--out FILE] [--data DIR]
#
# For each response size, each round runs every proxy once, in turn (rounds
# alternate proxies so drift in the machine's load spreads over all of them).
# A run: start the proxy, check it answers 200 with the expected body size,
# warm up, then measure with `wrk --latency`; the proxy's CPU time is the
# user+system time of all its processes (/proc/PID/stat) over the measured run.
# With RATES (percentages), each size then gets open-loop runs: edgeload at
# those percentages of the best peer's (the best proxy other than the first)
# median closed-loop req/s, latency corrected for coordinated omission.
# Prints a markdown report (medians over rounds; ratios of the medians and, paired
# by round, the median of the per-round ratios; every run) to stdout,
# and to FILE with --out; --data DIR keeps the raw tables (closed.tsv, open.tsv)
# for plots (bench/e2e/report.sh). Progress goes to stderr. Exits 1 if any run
# failed.
#
# Environment (defaults in brackets):
#   PROXIES      proxies to compare (edged nginx haproxy varnish); the first is
#                compared to the others ["edged nginx haproxy"]
#   RATES        open-loop rates in % of the best peer's closed-loop req/s,
#                e.g. "20 50 80" [none: closed loop only]
#   SIZES        response body sizes ["1KiB 64KiB"]
#   ROUNDS [3]  DURATION [10s]  WARMUP [2s, 0 = none]
#   CONNECTIONS [64]  THREADS [2] (wrk)  WORKERS [2] (proxy workers/threads)
#   ORIGIN       edge-origin | nginx (static file, to try the harness without
#                edge-origin) [edge-origin]
#   PIN          1 = pin origin i to CPU i mod nproc with taskset [1]
#   ORIGIN_PORTS ["18001 18002"]  PROXY_PORT [18080]
#   EDGED, EDGE_ORIGIN  binaries [build/release/edged, build/release/edge-origin]
#   EDGELOAD     binary [build/release/edgeload] (with RATES)
#   SKIP_BUILD=1 do not run scripts/build; KEEP_TMP=1 keep configs and logs
set -euo pipefail

usage() { sed -n '2,40s/^# \{0,1\}//p' "$0"; }

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
bench_tag=e2e
# shellcheck source=bench/lib.sh
. "$root/bench/lib.sh"
bench_parse_args "$@"
read -ra proxies <<<"${PROXIES:-edged nginx haproxy}"
read -ra sizes <<<"${SIZES:-1KiB 64KiB}"
read -ra origin_ports <<<"${ORIGIN_PORTS:-18001 18002}"
read -ra rates <<<"${RATES:-}"
rounds="${ROUNDS:-3}"
duration="${DURATION:-10s}"
warmup="${WARMUP:-2s}"
connections="${CONNECTIONS:-64}"
threads="${THREADS:-2}"
workers="${WORKERS:-2}"
origin_kind="${ORIGIN:-edge-origin}"
pin="${PIN:-1}"
proxy_port="${PROXY_PORT:-18080}"
edged_bin="${EDGED:-$root/build/release/edged}"
origin_bin="${EDGE_ORIGIN:-$root/build/release/edge-origin}"
edgeload_bin="${EDGELOAD:-$root/build/release/edgeload}"
ncpu="$(nproc)"
clk_tck="$(getconf CLK_TCK)"

for p in "${proxies[@]}"; do
  case "$p" in
    edged | nginx | haproxy | varnish) ;;
    *) die "unknown proxy '$p' (edged, nginx, haproxy, varnish)" ;;
  esac
done
case "$origin_kind" in edge-origin | nginx) ;; *) die "ORIGIN must be edge-origin or nginx" ;; esac
((${#proxies[@]} > 0 && ${#sizes[@]} > 0 && ${#origin_ports[@]} > 0)) ||
  die "PROXIES, SIZES and ORIGIN_PORTS must not be empty"

# ---- tools and binaries --------------------------------------------------------
"$root/scripts/bootstrap" --bench
# Build what is used and not given explicitly (EDGED / EDGE_ORIGIN).
targets=()
[[ " ${proxies[*]} " == *" edged "* && -z "${EDGED:-}" ]] && targets+=(--target edged)
[[ "$origin_kind" == edge-origin && -z "${EDGE_ORIGIN:-}" ]] && targets+=(--target edge-origin)
((${#rates[@]} > 0)) && [[ -z "${EDGELOAD:-}" ]] && targets+=(--target edgeload)
if ((${#targets[@]} > 0)) && [[ "${SKIP_BUILD:-0}" != 1 ]]; then
  log "building ${targets[*]} (Release)"
  "$root/scripts/build" release "${targets[@]}" >&2
fi
nginx_bin="$(command -v nginx || echo /usr/sbin/nginx)"
haproxy_bin="$(command -v haproxy || echo /usr/sbin/haproxy)"
varnishd_bin="$(command -v varnishd || echo /usr/sbin/varnishd)"
if [[ " ${proxies[*]} " == *" edged "* ]]; then
  [[ -x "$edged_bin" ]] || die "no edged binary at $edged_bin"
fi
[[ "$origin_kind" != edge-origin || -x "$origin_bin" ]] || die "no edge-origin binary at $origin_bin"
command -v wrk >/dev/null || die "wrk not installed"
if ((${#rates[@]} > 0)); then
  [[ -x "$edgeload_bin" ]] || die "no edgeload binary at $edgeload_bin"
  command -v jq >/dev/null || die "jq is needed to read edgeload's JSON"
fi

bench_start e2e

# ---- origins ---------------------------------------------------------------------
start_origins() {
  local size="$1" bytes i port cpu
  bytes="$(size_bytes "$size")"
  for i in "${!origin_ports[@]}"; do
    port="${origin_ports[i]}"
    local -a prefix=()
    if [[ "$pin" == 1 ]] && command -v taskset >/dev/null; then
      cpu=$((i % ncpu))
      prefix=(taskset -c "$cpu")
    fi
    if [[ "$origin_kind" == edge-origin ]]; then
      "${prefix[@]}" "$origin_bin" --listen "127.0.0.1:$port" --body-size "$size" \
        --threads 1 --id "origin-$((i + 1))" >"$tmp/origin-$port.log" 2>&1 &
    else
      local dir="$tmp/origin-$port"
      mkdir -p "$dir/www"
      head -c "$bytes" /dev/zero | tr '\0' 'x' >"$dir/www/body"
      cat >"$dir/nginx.conf" <<EOF
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  default_type application/octet-stream;
  $(nginx_temp_paths "$dir/temp")
  server {
    listen 127.0.0.1:$port;
    root $dir/www;
    location / { try_files /body =404; }
  }
}
EOF
      "${prefix[@]}" "$nginx_bin" -e "$dir/error.log" -c "$dir/nginx.conf" -g 'daemon off;' \
        >"$tmp/origin-$port.log" 2>&1 &
    fi
    origin_pids+=($!)
  done
  for i in "${!origin_ports[@]}"; do
    if ! wait_ok "http://127.0.0.1:${origin_ports[i]}/" "$bytes" "${origin_pids[i]}"; then
      tail -n 20 "$tmp/origin-${origin_ports[i]}.log" >&2 || true
      die "origin on port ${origin_ports[i]} does not answer 200 with $bytes bytes"
    fi
  done
}

stop_origins() {
  local p
  for p in "${origin_pids[@]}"; do stop_tree "$p"; done
  origin_pids=()
  for p in "${origin_ports[@]}"; do wait_port_free "$p" || die "port $p still in use"; done
}

# ---- proxies ---------------------------------------------------------------------
write_config() {
  local name="$1" dir="$tmp/$1" port
  mkdir -p "$dir"
  case "$name" in
    edged)
      {
        echo "workers: $workers"
        echo "admin: off"
        echo "access_log: { path: off }"
        echo "listeners:"
        echo "  - name: bench"
        echo "    listen: 127.0.0.1:$proxy_port"
        echo "    protocol: HTTP"
        echo "    default_action: { forward: { target_group: origins } }"
        echo "target_groups:"
        echo "  - name: origins"
        echo "    protocol: HTTP"
        echo "    algorithm: round_robin"
        echo "    health_check: { enabled: false }"
        echo "    targets:"
        for port in "${origin_ports[@]}"; do echo "      - 127.0.0.1:$port"; done
      } >"$dir/edged.yaml"
      ;;
    nginx)
      {
        echo "worker_processes $workers;"
        echo "pid $dir/nginx.pid;"
        echo "error_log $dir/error.log warn;"
        echo "events { worker_connections 4096; }"
        echo "http {"
        echo "  access_log off;"
        echo "  keepalive_requests 1000000;"
        echo "  $(nginx_temp_paths "$dir/temp")"
        echo "  proxy_buffer_size 16k;"
        echo "  proxy_buffers 8 16k;"
        echo "  proxy_max_temp_file_size 0;"
        echo "  upstream origins {"
        for port in "${origin_ports[@]}"; do echo "    server 127.0.0.1:$port;"; done
        echo "    keepalive 64;"
        echo "    keepalive_requests 1000000;"
        echo "  }"
        echo "  server {"
        echo "    listen 127.0.0.1:$proxy_port reuseport;"
        echo "    location / {"
        echo "      proxy_pass http://origins;"
        echo "      proxy_http_version 1.1;"
        echo "      proxy_set_header Connection \"\";"
        echo "    }"
        echo "  }"
        echo "}"
      } >"$dir/nginx.conf"
      ;;
    haproxy)
      {
        echo "global"
        echo "  nbthread $workers"
        echo "  maxconn 4096"
        echo "defaults"
        echo "  mode http"
        echo "  option http-keep-alive"
        echo "  http-reuse always"
        echo "  timeout connect 5s"
        echo "  timeout client 30s"
        echo "  timeout server 30s"
        echo "  timeout http-keep-alive 30s"
        echo "frontend bench"
        echo "  bind 127.0.0.1:$proxy_port"
        echo "  default_backend origins"
        echo "backend origins"
        echo "  balance roundrobin"
        local i=1
        for port in "${origin_ports[@]}"; do
          echo "  server o$i 127.0.0.1:$port"
          i=$((i + 1))
        done
      } >"$dir/haproxy.cfg"
      ;;
    varnish)
      # A pure proxy here (every request passed to an origin, nothing cached), so
      # that it does the same work as the others.
      {
        echo "vcl 4.1;"
        echo "import directors;"
        local i=1
        for port in "${origin_ports[@]}"; do
          echo "backend o$i { .host = \"127.0.0.1\"; .port = \"$port\"; }"
          i=$((i + 1))
        done
        echo "sub vcl_init {"
        echo "  new rr = directors.round_robin();"
        for ((i = 1; i <= ${#origin_ports[@]}; i++)); do echo "  rr.add_backend(o$i);"; done
        echo "}"
        echo "sub vcl_recv {"
        echo "  set req.backend_hint = rr.backend();"
        echo "  return (pass);"
        echo "}"
      } >"$dir/default.vcl"
      ;;
  esac
}

# Validates the generated configuration (a clear error beats a failed start).
check_config() {
  local dir="$tmp/$1"
  case "$1" in
    edged) "$edged_bin" --check-config -c "$dir/edged.yaml" ;;
    nginx) "$nginx_bin" -t -q -e "$dir/error.log" -c "$dir/nginx.conf" ;;
    haproxy) "$haproxy_bin" -c -q -f "$dir/haproxy.cfg" ;;
    varnish) "$varnishd_bin" -C -n "$dir/work" -f "$dir/default.vcl" >/dev/null 2>"$dir/check.log" ||
      { cat "$dir/check.log"; false; } ;;
  esac
}

start_proxy() {
  local dir="$tmp/$1"
  case "$1" in
    edged) "$edged_bin" -c "$dir/edged.yaml" >"$dir/out.log" 2>&1 & ;;
    nginx)
      "$nginx_bin" -e "$dir/error.log" -c "$dir/nginx.conf" -g 'daemon off;' \
        >"$dir/out.log" 2>&1 &
      ;;
    haproxy) "$haproxy_bin" -db -f "$dir/haproxy.cfg" >"$dir/out.log" 2>&1 & ;;
    varnish)
      # thread_pools = workers, as close to "2 workers" as Varnish's model gets.
      "$varnishd_bin" -F -n "$dir/work" -a "127.0.0.1:$proxy_port" -f "$dir/default.vcl" \
        -s malloc,64m -p "thread_pools=$workers" >"$dir/out.log" 2>&1 &
      ;;
  esac
  proxy_pid=$!
}

# ---- one measured run ------------------------------------------------------------
results="$tmp/results.tsv" # size proxy round rps p50_us p99_us cpu_us_per_req errors
: >"$results"
failed_runs=0
declare -A broken=() # proxy -> 1 once it failed to start for this size

measure() {
  local size="$1" name="$2" round="$3" bytes url="http://127.0.0.1:$proxy_port/"
  bytes="$(size_bytes "$size")"
  wait_port_free "$proxy_port" || die "port $proxy_port still in use"
  start_proxy "$name"
  if ! wait_ok "$url" "$bytes" "$proxy_pid"; then
    log "$name does not answer 200 with a $bytes-byte body on $url; its log:"
    tail -n 20 "$tmp/$name/out.log" "$tmp/$name/error.log" >&2 2>/dev/null || true
    stop_tree "$proxy_pid"
    proxy_pid=""
    broken[$name]=1
    failed_runs=$((failed_runs + 1))
    return
  fi
  if [[ "$warmup" != 0 ]]; then
    wrk -t"$threads" -c"$connections" -d"$warmup" "$url" >/dev/null 2>&1 || true
  fi
  local -a pids
  mapfile -t pids < <(descendants "$proxy_pid")
  local wrk_out="$tmp/wrk-$size-$name-$round.txt" t0 t1
  t0="$(cpu_ticks "${pids[@]}")"
  wrk -t"$threads" -c"$connections" -d"$duration" --latency "$url" >"$wrk_out" 2>&1 || true
  t1="$(cpu_ticks "${pids[@]}")"
  stop_tree "$proxy_pid"
  proxy_pid=""

  local reqs rps p50 p99 errors
  read -r reqs rps p50 p99 errors < <(parse_wrk "$wrk_out")
  if ((reqs == 0)); then
    log "$name: wrk completed no request; its output:"
    cat "$wrk_out" >&2
    failed_runs=$((failed_runs + 1))
    return
  fi
  local cpu
  cpu="$(awk -v d=$((t1 - t0)) -v hz="$clk_tck" -v n="$reqs" 'BEGIN { printf "%.2f", d / hz * 1e6 / n }')"
  ((errors == 0)) || log "$name: $errors errors (non-2xx or socket) in this run"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
    "$size" "$name" "$round" "$rps" "$p50" "$p99" "$cpu" "$errors" >>"$results"
  log "$(printf '%-7s %-7s round %s: %10.0f req/s  p50 %7.0f us  p99 %7.0f us  %6.2f CPU us/req' \
    "$size" "$name" "$round" "$rps" "$p50" "$p99" "$cpu")"
}

# ---- open loop: edgeload at a fixed rate -------------------------------------------
open_results="$tmp/open.tsv" # size proxy round pct rate rps p50 p90 p99 p99.9 p99.99 max cpu errors (µs)
: >"$open_results"

# best_peer_rps SIZE: the highest median closed-loop req/s among the proxies after
# the first (or of the first when it runs alone).
best_peer_rps() {
  local -a peers=("${proxies[@]:1}")
  ((${#peers[@]} > 0)) || peers=("${proxies[0]}")
  local p best=0 m
  for p in "${peers[@]}"; do
    m="$(awk -F'\t' -v s="$1" -v p="$p" '$1 == s && $2 == p { print $4 }' "$results" | sort -g |
      awk '{ v[NR] = $1 } END { if (NR == 0) print 0; else if (NR % 2) print v[(NR + 1) / 2];
        else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }')"
    best="$(awk -v a="$best" -v b="$m" 'BEGIN { print (b > a) ? b : a }')"
  done
  echo "$best"
}

measure_open() {
  local size="$1" name="$2" round="$3" pct="$4" rate="$5" bytes url="http://127.0.0.1:$proxy_port/"
  bytes="$(size_bytes "$size")"
  wait_port_free "$proxy_port" || die "port $proxy_port still in use"
  start_proxy "$name"
  if ! wait_ok "$url" "$bytes" "$proxy_pid"; then
    log "$name does not answer 200 with a $bytes-byte body on $url"
    stop_tree "$proxy_pid"
    proxy_pid=""
    failed_runs=$((failed_runs + 1))
    return
  fi
  if [[ "$warmup" != 0 ]]; then
    "$edgeload_bin" -q -t "$threads" -c "$connections" -R "$rate" -d "$warmup" "$url" >/dev/null 2>&1 || true
  fi
  local -a pids
  mapfile -t pids < <(descendants "$proxy_pid")
  local out="$tmp/edgeload-$size-$name-$round-$pct.json" t0 t1
  t0="$(cpu_ticks "${pids[@]}")"
  "$edgeload_bin" -q --json -t "$threads" -c "$connections" -R "$rate" -d "$duration" "$url" \
    >"$out" 2>"$out.err" || true
  t1="$(cpu_ticks "${pids[@]}")"
  stop_tree "$proxy_pid"
  proxy_pid=""
  local line
  if ! line="$(jq -r '[.throughput, .latency_ns.p50, .latency_ns.p90, .latency_ns.p99,
        .latency_ns["p99.9"], .latency_ns["p99.99"], .latency_ns.max, .responses, .failures]
        | map(tostring) | join(" ")' "$out" 2>/dev/null)"; then
    log "$name: edgeload failed: $(tail -n 3 "$out.err" 2>/dev/null)"
    failed_runs=$((failed_runs + 1))
    return
  fi
  local rps p50 p90 p99 p999 p9999 max reqs errors cpu
  read -r rps p50 p90 p99 p999 p9999 max reqs errors <<<"$line"
  if ((reqs == 0)); then
    log "$name: edgeload completed no request"
    failed_runs=$((failed_runs + 1))
    return
  fi
  cpu="$(awk -v d=$((t1 - t0)) -v hz="$clk_tck" -v n="$reqs" 'BEGIN { printf "%.2f", d / hz * 1e6 / n }')"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$size" "$name" "$round" \
    "$pct" "$rate" "$rps" "$((p50 / 1000))" "$((p90 / 1000))" "$((p99 / 1000))" "$((p999 / 1000))" \
    "$((p9999 / 1000))" "$((max / 1000))" "$cpu" "$errors" >>"$open_results"
  log "$(printf '%-7s %-7s round %s: %3s%% = %7.0f req/s offered, %7.0f done  p50 %6d us  p99 %7d us  p99.9 %7d us  %6.2f CPU us/req' \
    "$size" "$name" "$round" "$pct" "$rate" "$rps" "$((p50 / 1000))" "$((p99 / 1000))" "$((p999 / 1000))" "$cpu")"
}

# ---- main ------------------------------------------------------------------------
for name in "${proxies[@]}"; do
  write_config "$name"
  check_config "$name" >&2 || die "generated $name configuration is invalid ($tmp/$name)"
done

for size in "${sizes[@]}"; do
  log "origins: ${#origin_ports[@]} x $origin_kind, $size responses"
  start_origins "$size"
  broken=()
  for ((round = 1; round <= rounds; round++)); do
    for name in "${proxies[@]}"; do
      [[ -n "${broken[$name]:-}" ]] && continue
      measure "$size" "$name" "$round"
    done
  done
  if ((${#rates[@]} > 0)); then
    best="$(best_peer_rps "$size")"
    if awk -v b="$best" 'BEGIN { exit !(b > 0) }'; then
      for pct in "${rates[@]}"; do
        rate="$(awk -v b="$best" -v p="$pct" 'BEGIN { printf "%.0f", b * p / 100 }')"
        log "$size: open loop at $pct% of the best peer's $best req/s = $rate req/s"
        for ((round = 1; round <= rounds; round++)); do
          for name in "${proxies[@]}"; do
            [[ -n "${broken[$name]:-}" ]] && continue
            measure_open "$size" "$name" "$round" "$pct" "$rate"
          done
        done
      done
    else
      log "$size: no closed-loop figure for a peer; open loop skipped"
    fi
  fi
  stop_origins
done

# ---- report ------------------------------------------------------------------------
# med SIZE PROXY COLUMN (4 = req/s, 5 = p50, 6 = p99, 7 = CPU/req)
med() {
  awk -F'\t' -v s="$1" -v p="$2" -v c="$3" '$1 == s && $2 == p { print $c }' "$results" | median
}
# paired SIZE A B COLUMN: the median over rounds of A's figure / B's in the same
# round (the two ran back to back, so drift of the machine between rounds cancels).
paired() {
  awk -F'\t' -v s="$1" -v a="$2" -v b="$3" -v c="$4" '
    $1 == s && $2 == a { va[$3] = $c } $1 == s && $2 == b { vb[$3] = $c }
    END { for (r in va) if ((r in vb) && vb[r] > 0) print va[r] / vb[r] }' "$results" | median
}
# open_median SIZE PROXY PCT COLUMN (of open.tsv: 6 = req/s, 7.. 12 = p50 .. max µs, 13 = CPU/req)
open_median() {
  awk -F'\t' -v s="$1" -v p="$2" -v r="$3" -v c="$4" '$1 == s && $2 == p && $4 == r { print $c }' \
    "$open_results" | median
}

report="$tmp/report.md"
{
  commit="$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)"
  [[ -n "$(git -C "$root" status --porcelain --untracked-files=no 2>/dev/null)" ]] &&
    commit="$commit (with local changes)"
  cpu_model="$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
  echo "## End-to-end: $(label "${proxies[0]}")$(for p in "${proxies[@]:1}"; do printf ', %s' "$(label "$p")"; done)"
  echo
  echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'); commit $commit"
  echo "- machine: $ncpu CPUs (${cpu_model:-unknown}), $(uname -sr); load generator, proxy and origins share it"
  echo "- load: \`wrk -t$threads -c$connections -d$duration --latency\`$([[ "$warmup" == 0 ]] &&
    echo ', no warm-up' || echo " after a $warmup warm-up");" \
    "$rounds round(s), proxies alternating within each round"
  echo "- origins: ${#origin_ports[@]} x $origin_kind (1 thread each$([[ "$pin" == 1 ]] && echo ', pinned one per CPU')), round robin"
  echo "- proxies ($workers workers/threads each, keep-alive to the origins, no access log):"
  for p in "${proxies[@]}"; do echo "  - $(label "$p") $(proxy_version "$p")"; done
  echo "- CPU/req: user+system time of all the proxy's processes during the measured run, divided by requests"
  ((${#rates[@]} > 0)) && echo "- open loop: \`edgeload -t$threads -c$connections -R RATE -d$duration\` at ${rates[*]} % of the best peer's closed-loop req/s; latency from each request's intended send time"
  echo "- command: \`PROXIES=\"${proxies[*]}\" SIZES=\"${sizes[*]}\" ROUNDS=$rounds DURATION=$duration CONNECTIONS=$connections ORIGIN=$origin_kind${RATES:+ RATES=\"${rates[*]}\"} bench/e2e/run.sh\`"
  for size in "${sizes[@]}"; do
    echo
    echo "### $size responses (median of $rounds round$( ((rounds > 1)) && echo s))"
    echo
    echo "| proxy | req/s | p50 ms | p99 ms | CPU µs/req | errors |"
    echo "|---|---:|---:|---:|---:|---:|"
    for p in "${proxies[@]}"; do
      errs="$(awk -F'\t' -v s="$size" -v p="$p" '$1 == s && $2 == p { e += $8 } END { print e + 0 }' "$results")"
      printf '| %s | %s | %s | %s | %s | %s |\n' "$(label "$p")" \
        "$(fmt "$(med "$size" "$p" 4)" '%.0f')" \
        "$(ms "$(med "$size" "$p" 5)")" "$(ms "$(med "$size" "$p" 6)")" \
        "$(fmt "$(med "$size" "$p" 7)" '%.2f')" "$errs"
    done
    if ((${#proxies[@]} > 1)); then
      echo
      s="${proxies[0]}"
      for p in "${proxies[@]:1}"; do
        echo "- $(label "$s")/$(label "$p"): req/s $(ratio "$(med "$size" "$s" 4)" "$(med "$size" "$p" 4)")," \
          "CPU/req $(ratio "$(med "$size" "$s" 7)" "$(med "$size" "$p" 7)");" \
          "paired by round: req/s $(fmt "$(paired "$size" "$s" "$p" 4)" '%.2f')," \
          "CPU/req $(fmt "$(paired "$size" "$s" "$p" 7)" '%.2f')"
      done
    fi
    for pct in "${rates[@]}"; do
      rate="$(awk -F'\t' -v s="$size" -v c="$pct" '$1 == s && $4 == c { print $5; exit }' "$open_results")"
      [[ -n "$rate" ]] || continue
      echo
      echo "#### $size, open loop at $pct % = $rate req/s (edgeload; median of rounds)"
      echo
      echo "| proxy | req/s done | p50 ms | p90 ms | p99 ms | p99.9 ms | p99.99 ms | max ms | CPU µs/req | failures |"
      echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
      for p in "${proxies[@]}"; do
        printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$(label "$p")" \
          "$(fmt "$(open_median "$size" "$p" "$pct" 6)" '%.0f')" \
          "$(ms "$(open_median "$size" "$p" "$pct" 7)")" "$(ms "$(open_median "$size" "$p" "$pct" 8)")" \
          "$(ms "$(open_median "$size" "$p" "$pct" 9)")" "$(ms "$(open_median "$size" "$p" "$pct" 10)")" \
          "$(ms "$(open_median "$size" "$p" "$pct" 11)")" "$(ms "$(open_median "$size" "$p" "$pct" 12)")" \
          "$(fmt "$(open_median "$size" "$p" "$pct" 13)" '%.2f')" \
          "$(awk -F'\t' -v s="$size" -v p="$p" -v c="$pct" '$1 == s && $2 == p && $4 == c { e += $14 } END { print e + 0 }' "$open_results")"
      done
      if ((${#proxies[@]} > 1)); then
        echo
        s="${proxies[0]}"
        for p in "${proxies[@]:1}"; do
          echo "- $(label "$s")/$(label "$p"): p99 $(ratio "$(open_median "$size" "$s" "$pct" 9)" "$(open_median "$size" "$p" "$pct" 9)")," \
            "CPU/req $(ratio "$(open_median "$size" "$s" "$pct" 13)" "$(open_median "$size" "$p" "$pct" 13)")"
        done
      fi
    done
  done
  echo
  echo "### Every run"
  echo
  echo "| size | proxy | round | req/s | p50 ms | p99 ms | CPU µs/req | errors |"
  echo "|---|---|---:|---:|---:|---:|---:|---:|"
  awk -F'\t' '{ name = ($2 == "haproxy") ? "HAProxy" : ($2 == "varnish") ? "Varnish" : $2
    printf "| %s | %s | %s | %.0f | %.2f | %.2f | %.2f | %d |\n",
      $1, name, $3, $4, $5 / 1000, $6 / 1000, $7, $8 }' "$results"
  if [[ -s "$open_results" ]]; then
    echo
    echo "| size | proxy | round | % | offered req/s | done req/s | p50 ms | p99 ms | p99.9 ms | max ms | CPU µs/req | failures |"
    echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    awk -F'\t' '{ name = ($2 == "haproxy") ? "HAProxy" : ($2 == "varnish") ? "Varnish" : $2
      printf "| %s | %s | %s | %s | %s | %.0f | %.2f | %.2f | %.2f | %.2f | %.2f | %d |\n",
        $1, name, $3, $4, $5, $6, $7 / 1000, $9 / 1000, $10 / 1000, $12 / 1000, $13, $14 }' "$open_results"
  fi
  if ((failed_runs > 0)); then
    echo
    echo "**$failed_runs run(s) failed; see the log above.**"
  fi
} >"$report"

{ for p in "${proxies[@]}"; do printf '%s\t%s\n' "$p" "$(proxy_version "$p")"; done; } >"$tmp/versions.tsv"
bench_output "$report" "$results" closed.tsv "$open_results" open.tsv "$tmp/versions.tsv" versions.tsv
((failed_runs == 0))
