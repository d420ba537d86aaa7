#!/usr/bin/env bash
# Cache hits side by side: edged, Varnish and nginx (proxy_cache) serving the same
# object from their caches, loaded by wrk over loopback.
#
#   bench/cache/run.sh [--out FILE] [--data DIR]
#
# For each object size, each round runs every proxy once, in turn. A run: start
# the proxy in front of the two origins, fetch the object (a miss that fills the
# cache), warm up, then check that the proxy serves hits before measuring:
#   edged    `X-Cache: Hit from edged`
#   Varnish  `X-Varnish` with two transaction ids (this request's and the one that
#            filled the cache)
#   nginx    `X-Cache-Status: HIT` (added from $upstream_cache_status)
# and, after the measured run, that the origins served no request during it (their
# GET /stats counts). A proxy that fails either check fails the run with the reason
# and is skipped for the rest of that size; its hit figures would be proxied ones.
# The proxy's CPU time is the user+system time of all its processes (/proc) over
# the measured run, per request. Prints a markdown report (medians over rounds,
# ratios of the first proxy to the others, every run) to stdout, and to FILE with
# --out; --data DIR keeps the raw table (cache.tsv). Exits 1 if any run failed.
#
# Cache setup: edged `cache: { memory: 256MiB }` with `forward: { target_group,
# cache_policy: CachingOptimized }`; Varnish's default VCL (a round-robin director
# only) with `-s malloc,256m` and a default TTL of 1 day (-t, as CachingOptimized's
# default_ttl: the origins send no Cache-Control); nginx `proxy_cache` with
# `proxy_cache_valid 200 1d`, keys in a 10 MiB zone, objects in the run's temporary
# directory (page cache). Each proxy has WORKERS workers/threads (Varnish:
# thread_pools).
#
# Environment (defaults in brackets):
#   PROXIES      edged varnish nginx; the first is compared to the others
#                ["edged varnish nginx"]
#   SIZES        object sizes ["1KiB 64KiB"]
#   ROUNDS [3]  DURATION [10s]  WARMUP [2s; at least one request is always made]
#   CONNECTIONS [64]  THREADS [2] (wrk)  WORKERS [2]
#   PIN          1 = pin origin i to CPU i mod nproc with taskset [1]
#   ORIGIN_PORTS ["18001 18002"]  PROXY_PORT [18080]
#   EDGED, EDGE_ORIGIN  binaries [build/release/edged, build/release/edge-origin]
#   SKIP_BUILD=1 do not run scripts/build; KEEP_TMP=1 keep configs and logs
set -euo pipefail

usage() { sed -n '2,45s/^# \{0,1\}//p' "$0"; }

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
bench_tag=cache
# shellcheck source=bench/lib.sh
. "$root/bench/lib.sh"
bench_parse_args "$@"

read -ra proxies <<<"${PROXIES:-edged varnish nginx}"
read -ra sizes <<<"${SIZES:-1KiB 64KiB}"
read -ra origin_ports <<<"${ORIGIN_PORTS:-18001 18002}"
rounds="${ROUNDS:-3}"
duration="${DURATION:-10s}"
warmup="${WARMUP:-2s}"
connections="${CONNECTIONS:-64}"
threads="${THREADS:-2}"
workers="${WORKERS:-2}"
pin="${PIN:-1}"
proxy_port="${PROXY_PORT:-18080}"
edged_bin="${EDGED:-$root/build/release/edged}"
origin_bin="${EDGE_ORIGIN:-$root/build/release/edge-origin}"

for p in "${proxies[@]}"; do
  case "$p" in edged | varnish | nginx) ;; *) die "unknown proxy '$p' (edged, varnish, nginx)" ;; esac
done
((${#proxies[@]} > 0 && ${#sizes[@]} > 0 && ${#origin_ports[@]} > 0)) ||
  die "PROXIES, SIZES and ORIGIN_PORTS must not be empty"

# ---- tools and binaries --------------------------------------------------------
"$root/scripts/bootstrap" --bench
targets=()
[[ " ${proxies[*]} " == *" edged "* && -z "${EDGED:-}" ]] && targets+=(--target edged)
[[ -z "${EDGE_ORIGIN:-}" ]] && targets+=(--target edge-origin)
if ((${#targets[@]} > 0)) && [[ "${SKIP_BUILD:-0}" != 1 ]]; then
  log "building ${targets[*]} (Release)"
  "$root/scripts/build" release "${targets[@]}" >&2
fi
nginx_bin="$(command -v nginx || echo /usr/sbin/nginx)"
varnishd_bin="$(command -v varnishd || echo /usr/sbin/varnishd)"
if [[ " ${proxies[*]} " == *" edged "* ]]; then
  [[ -x "$edged_bin" ]] || die "no edged binary at $edged_bin"
fi
[[ -x "$origin_bin" ]] || die "no edge-origin binary at $origin_bin"
command -v wrk >/dev/null || die "wrk not installed"

bench_start cache

# ---- proxies ---------------------------------------------------------------------
write_config() {
  local name="$1" dir="$tmp/$1" port i
  mkdir -p "$dir"
  case "$name" in
    edged)
      {
        echo "workers: $workers"
        echo "admin: off"
        echo "access_log: { path: off }"
        echo "cache: { memory: 256MiB }"
        echo "listeners:"
        echo "  - name: bench"
        echo "    listen: 127.0.0.1:$proxy_port"
        echo "    protocol: HTTP"
        echo "    default_action: { forward: { target_group: origins, cache_policy: CachingOptimized } }"
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
        echo "  sendfile on;"
        echo "  proxy_cache_path $dir/cache levels=1:2 keys_zone=bench:10m max_size=256m inactive=1d use_temp_path=off;"
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
        echo "      proxy_cache bench;"
        echo "      proxy_cache_valid 200 1d;"
        echo "      add_header X-Cache-Status \$upstream_cache_status;"
        echo "    }"
        echo "  }"
        echo "}"
      } >"$dir/nginx.conf"
      ;;
    varnish)
      # Varnish's built-in VCL does the caching; this one only picks the backend.
      {
        echo "vcl 4.1;"
        echo "import directors;"
        i=1
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
        echo "}"
      } >"$dir/default.vcl"
      ;;
  esac
}

check_config() {
  local dir="$tmp/$1"
  case "$1" in
    edged) "$edged_bin" --check-config -c "$dir/edged.yaml" ;;
    nginx) "$nginx_bin" -t -q -e "$dir/error.log" -c "$dir/nginx.conf" ;;
    varnish) "$varnishd_bin" -C -n "$dir/work" -f "$dir/default.vcl" >/dev/null 2>"$dir/check.log" ||
      { cat "$dir/check.log"; false; } ;;
  esac
}

start_proxy() {
  local dir="$tmp/$1"
  case "$1" in
    edged) "$edged_bin" -c "$dir/edged.yaml" >"$dir/out.log" 2>&1 & ;;
    nginx)
      rm -rf "$dir/cache" # every run starts cold
      "$nginx_bin" -e "$dir/error.log" -c "$dir/nginx.conf" -g 'daemon off;' \
        >"$dir/out.log" 2>&1 &
      ;;
    varnish)
      "$varnishd_bin" -F -n "$dir/work" -a "127.0.0.1:$proxy_port" -f "$dir/default.vcl" \
        -s malloc,256m -t 86400 -p "thread_pools=$workers" >"$dir/out.log" 2>&1 &
      ;;
  esac
  proxy_pid=$!
}

# served_from_cache PROXY HEADERS_FILE: whether the response headers say "hit".
served_from_cache() {
  case "$1" in
    edged) grep -qiE '^x-cache: *hit from edged' "$2" ;;
    varnish) grep -qiE '^x-varnish: *[0-9]+ +[0-9]+' "$2" ;;
    nginx) grep -qiE '^x-cache-status: *hit' "$2" ;;
  esac
}
hit_sign() {
  case "$1" in
    edged) echo "'X-Cache: Hit from edged'" ;;
    varnish) echo "'X-Varnish' with two ids" ;;
    nginx) echo "'X-Cache-Status: HIT'" ;;
  esac
}

# ---- one measured run ------------------------------------------------------------
results="$tmp/cache.tsv" # size proxy round rps p50_us p99_us cpu_us errors origin_requests
: >"$results"
failed_runs=0
declare -A broken=()
declare -A not_measured=() # "SIZE PROXY" -> why, for the report

# fail_run SIZE PROXY REASON: stops the proxy, skips it for the rest of SIZE.
fail_run() {
  log "$2 ($1): $3"
  if [[ -n "$proxy_pid" ]]; then
    stop_tree "$proxy_pid"
    proxy_pid=""
  fi
  broken[$2]=1
  not_measured["$1 $2"]="$3"
  failed_runs=$((failed_runs + 1))
}

measure() {
  local size="$1" name="$2" round="$3" bytes url="http://127.0.0.1:$proxy_port/"
  bytes="$(size_bytes "$size")"
  wait_port_free "$proxy_port" || die "port $proxy_port still in use"
  start_proxy "$name"
  if ! wait_ok "$url" "$bytes" "$proxy_pid"; then
    tail -n 20 "$tmp/$name/out.log" "$tmp/$name/error.log" >&2 2>/dev/null || true
    fail_run "$size" "$name" "does not answer 200 with a $bytes-byte body on $url"
    return
  fi
  if [[ "$warmup" != 0 ]]; then
    wrk -t"$threads" -c"$connections" -d"$warmup" "$url" >/dev/null 2>&1 || true
  fi
  local heads="$tmp/$name/headers-$size-$round.txt" before after
  before="$(origin_requests "${origin_ports[@]}")"
  curl -s -o /dev/null -D "$heads" --max-time 5 "$url" || true
  after="$(origin_requests "${origin_ports[@]}")"
  if ! served_from_cache "$name" "$heads"; then
    log "$name: the answer's headers are in $heads"
    fail_run "$size" "$name" "serves no hits: no $(hit_sign "$name") in its answer after the warm-up"
    return
  fi
  if ((after - before - ${#origin_ports[@]} > 0)); then
    fail_run "$size" "$name" "serves no hits: the origins saw the request made after the warm-up"
    return
  fi
  local -a pids
  mapfile -t pids < <(descendants "$proxy_pid")
  local wrk_out="$tmp/wrk-$size-$name-$round.txt" t0 t1
  before="$(origin_requests "${origin_ports[@]}")"
  t0="$(cpu_ticks "${pids[@]}")"
  wrk -t"$threads" -c"$connections" -d"$duration" --latency "$url" >"$wrk_out" 2>&1 || true
  t1="$(cpu_ticks "${pids[@]}")"
  after="$(origin_requests "${origin_ports[@]}")"
  local origin=$((after - before - ${#origin_ports[@]}))
  stop_tree "$proxy_pid"
  proxy_pid=""

  local reqs rps p50 p99 errors cpu
  read -r reqs rps p50 p99 errors < <(parse_wrk "$wrk_out")
  if ((reqs == 0)); then
    cat "$wrk_out" >&2
    fail_run "$size" "$name" "wrk completed no request"
    return
  fi
  if ((origin > 0)); then
    fail_run "$size" "$name" "the origins served $origin of the $reqs requests of the measured run: not all hits"
    return
  fi
  cpu="$(cpu_us_per $((t1 - t0)) "$reqs")"
  ((errors == 0)) || log "$name: $errors errors (non-2xx or socket) in this run"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
    "$size" "$name" "$round" "$rps" "$p50" "$p99" "$cpu" "$errors" "$origin" >>"$results"
  log "$(printf '%-7s %-7s round %s: %10.0f hits/s  p50 %7.0f us  p99 %7.0f us  %6.2f CPU us/req  origin requests %d' \
    "$size" "$name" "$round" "$rps" "$p50" "$p99" "$cpu" "$origin")"
}

# ---- main ------------------------------------------------------------------------
for name in "${proxies[@]}"; do
  write_config "$name"
  check_config "$name" >&2 || die "generated $name configuration is invalid ($tmp/$name)"
done

for size in "${sizes[@]}"; do
  log "origins: ${#origin_ports[@]} x edge-origin, $size objects"
  start_edge_origins "$size" "${origin_ports[@]}"
  broken=()
  for ((round = 1; round <= rounds; round++)); do
    for name in "${proxies[@]}"; do
      [[ -n "${broken[$name]:-}" ]] && continue
      measure "$size" "$name" "$round"
    done
  done
  for p in "${origin_pids[@]}"; do stop_tree "$p"; done
  origin_pids=()
  for p in "${origin_ports[@]}"; do wait_port_free "$p" || die "port $p still in use"; done
done

# ---- report ------------------------------------------------------------------------
# med SIZE PROXY COLUMN (4 = req/s, 5 = p50, 6 = p99, 7 = CPU/req)
med() {
  awk -F'\t' -v s="$1" -v p="$2" -v c="$3" '$1 == s && $2 == p { print $c }' "$results" | median
}

report="$tmp/report.md"
{
  commit="$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)"
  [[ -n "$(git -C "$root" status --porcelain --untracked-files=no 2>/dev/null)" ]] &&
    commit="$commit (with local changes)"
  echo "## Cache hits: $(label "${proxies[0]}")$(for p in "${proxies[@]:1}"; do printf ', %s' "$(label "$p")"; done)"
  echo
  echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'); commit $commit"
  echo "- machine: $(nproc) CPUs ($(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)), $(uname -sr); load generator, proxy and origins share it"
  echo "- load: \`wrk -t$threads -c$connections -d$duration --latency\` on one URL after a miss that fills the cache$([[ "$warmup" == 0 ]] &&
    echo '' || echo " and a $warmup warm-up");" \
    "$rounds round(s), proxies alternating within each round; hits checked by response header and by the origins' request counts (0 during every measured run)"
  echo "- caches: edged CachingOptimized, 256 MiB; Varnish default VCL, \`-s malloc,256m -t 86400\`; nginx \`proxy_cache\` (10 MiB keys zone, objects on disk in the page cache), \`proxy_cache_valid 200 1d\`; $workers workers/threads (Varnish thread_pools) each"
  echo "- proxies:"
  for p in "${proxies[@]}"; do echo "  - $(label "$p") $(proxy_version "$p")"; done
  echo "- CPU/req: user+system time of all the proxy's processes during the measured run, divided by requests"
  echo "- command: \`PROXIES=\"${proxies[*]}\" SIZES=\"${sizes[*]}\" ROUNDS=$rounds DURATION=$duration CONNECTIONS=$connections WORKERS=$workers bench/cache/run.sh\`"
  for size in "${sizes[@]}"; do
    echo
    echo "### $size object, cache hits (median of $rounds round$( ((rounds > 1)) && echo s))"
    echo
    echo "| proxy | hits/s | p50 ms | p99 ms | CPU µs/req | errors |"
    echo "|---|---:|---:|---:|---:|---:|"
    for p in "${proxies[@]}"; do
      if [[ -z "$(med "$size" "$p" 4)" && -n "${not_measured["$size $p"]:-}" ]]; then
        printf '| %s | not measured: %s | | | | |\n' "$(label "$p")" "${not_measured["$size $p"]}"
        continue
      fi
      errs="$(awk -F'\t' -v s="$size" -v p="$p" '$1 == s && $2 == p { e += $8 } END { print e + 0 }' "$results")"
      printf '| %s | %s | %s | %s | %s | %s |\n' "$(label "$p")" \
        "$(fmt "$(med "$size" "$p" 4)" '%.0f')" "$(ms "$(med "$size" "$p" 5)")" \
        "$(ms "$(med "$size" "$p" 6)")" "$(fmt "$(med "$size" "$p" 7)" '%.2f')" "$errs"
    done
    if ((${#proxies[@]} > 1)); then
      echo
      s="${proxies[0]}"
      for p in "${proxies[@]:1}"; do
        echo "- $(label "$s")/$(label "$p"): hits/s $(ratio "$(med "$size" "$s" 4)" "$(med "$size" "$p" 4)")," \
          "CPU/req $(ratio "$(med "$size" "$s" 7)" "$(med "$size" "$p" 7)")"
      done
    fi
    if [[ " ${proxies[*]} " == *" edged "* && " ${proxies[*]} " == *" varnish "* ]]; then
      r="$(ratio "$(med "$size" edged 4)" "$(med "$size" varnish 4)")"
      if [[ "$r" == n/a ]]; then
        echo "- target edged ≥ Varnish on hits/s: not measured"
      elif awk -v r="$r" 'BEGIN { exit !(r >= 1) }'; then
        echo "- target edged ≥ Varnish on hits/s: met ($r)"
      else
        echo "- target edged ≥ Varnish on hits/s: **not met** ($r)"
      fi
    fi
  done
  echo
  echo "### Every run"
  echo
  echo "| size | proxy | round | hits/s | p50 ms | p99 ms | CPU µs/req | errors | origin requests |"
  echo "|---|---|---:|---:|---:|---:|---:|---:|---:|"
  awk -F'\t' '{ name = ($2 == "varnish") ? "Varnish" : $2
    printf "| %s | %s | %s | %.0f | %.2f | %.2f | %.2f | %d | %d |\n",
      $1, name, $3, $4, $5 / 1000, $6 / 1000, $7, $8, $9 }' "$results"
  if ((failed_runs > 0)); then
    echo
    echo "**$failed_runs run(s) failed; see the log above.**"
  fi
} >"$report"

bench_output "$report" "$results" cache.tsv
((failed_runs == 0))
