#!/usr/bin/env bash
# TLS side by side: edged, nginx and HAProxy terminating HTTPS with the same
# certificate and security policy in front of the same two origins, loaded by
# edgeload over loopback.
#
#   bench/tls/run.sh [--out FILE] [--data DIR]
#
# Cases (CASES), each with 1 and 2 workers (WORKERS_LIST):
#   full-ecdsa  full handshakes/s, ECDSA P-256 certificate: one request per
#               connection, no session offered (edgeload --no-keepalive)
#   full-rsa    the same with an RSA 2048 certificate
#   resumed     resumed handshakes/s (ECDSA): one request per connection, each
#               connection resuming its previous session (--tls-resume: a TLS 1.3
#               ticket, or with TLS_MAX=1.2 a TLS 1.2 ticket)
#   keepalive   HTTPS keep-alive req/s (ECDSA): one handshake per connection, then
#               requests on it
# Every response is SIZE bytes from the origins (proxied, as bench/e2e/run.sh).
# Within a case, each round runs every proxy once, in turn. A run: start the
# proxy, check it answers 200 over HTTPS with the expected body and key size, warm
# up, measure; the proxy's CPU time is the user+system time of all its processes
# (/proc/PID/stat) over the measured run, per response (= per handshake in the
# handshake cases). A run fails when edgeload completes nothing or, in the resumed
# case, when fewer than 95 % of the handshakes resumed (or, in the full cases, any
# did). Prints a markdown report to stdout (and FILE with --out; --data DIR keeps
# the raw table tls.tsv); progress goes to stderr. Exits 1 if any run failed.
#
# Security policy, for all proxies: ELBSecurityPolicy-TLS13-1-2-2021-06 (edged's
# default; TLS 1.2 and 1.3, the ciphers of src/tls/security_policy.cpp, server
# cipher preference), session tickets on, TLS 1.2 session cache on, HTTP/1.1.
#
# Environment (defaults in brackets):
#   PROXIES       edged nginx haproxy; the first is compared to the others
#                 ["edged nginx haproxy"]
#   CASES         ["full-ecdsa full-rsa resumed keepalive"]
#   WORKERS_LIST  worker counts (edged workers, nginx worker_processes, HAProxy
#                 nbthread) ["1 2"]
#   ROUNDS [3]  DURATION [10s]  WARMUP [2s, 0 = none]  SIZE [1KiB]
#   CONNECTIONS [64]  THREADS [2] (edgeload)
#   TLS_MAX       "" (TLS 1.3) or 1.2: the highest version edgeload offers [""]
#   PIN           1 = pin origin i to CPU i mod nproc with taskset [1]
#   ORIGIN_PORTS ["18001 18002"]  PROXY_PORT [18443]
#   EDGED, EDGE_ORIGIN, EDGELOAD  binaries [build/release/...]
#   SKIP_BUILD=1 do not run scripts/build; KEEP_TMP=1 keep configs and logs
set -euo pipefail

usage() { sed -n '2,50s/^# \{0,1\}//p' "$0"; }

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
bench_tag=tls
# shellcheck source=bench/lib.sh
. "$root/bench/lib.sh"
bench_parse_args "$@"

read -ra proxies <<<"${PROXIES:-edged nginx haproxy}"
read -ra cases <<<"${CASES:-full-ecdsa full-rsa resumed keepalive}"
read -ra workers_list <<<"${WORKERS_LIST:-1 2}"
read -ra origin_ports <<<"${ORIGIN_PORTS:-18001 18002}"
rounds="${ROUNDS:-3}"
duration="${DURATION:-10s}"
warmup="${WARMUP:-2s}"
size="${SIZE:-1KiB}"
connections="${CONNECTIONS:-64}"
threads="${THREADS:-2}"
tls_max="${TLS_MAX:-}"
pin="${PIN:-1}"
proxy_port="${PROXY_PORT:-18443}"
edged_bin="${EDGED:-$root/build/release/edged}"
origin_bin="${EDGE_ORIGIN:-$root/build/release/edge-origin}"
edgeload_bin="${EDGELOAD:-$root/build/release/edgeload}"

for p in "${proxies[@]}"; do
  case "$p" in edged | nginx | haproxy) ;; *) die "unknown proxy '$p' (edged, nginx, haproxy)" ;; esac
done
for c in "${cases[@]}"; do
  case "$c" in
    full-ecdsa | full-rsa | resumed | keepalive) ;;
    *) die "unknown case '$c' (full-ecdsa, full-rsa, resumed, keepalive)" ;;
  esac
done
for w in "${workers_list[@]}"; do
  [[ "$w" =~ ^[1-9][0-9]*$ ]] || die "WORKERS_LIST: '$w' is not a positive number"
done
case "$tls_max" in "" | 1.2 | 1.3) ;; *) die "TLS_MAX must be empty, 1.2 or 1.3" ;; esac
((${#proxies[@]} > 0 && ${#cases[@]} > 0 && ${#workers_list[@]} > 0 && ${#origin_ports[@]} > 0)) ||
  die "PROXIES, CASES, WORKERS_LIST and ORIGIN_PORTS must not be empty"
bytes="$(size_bytes "$size")"

# ---- tools and binaries --------------------------------------------------------
"$root/scripts/bootstrap" --bench
targets=()
[[ " ${proxies[*]} " == *" edged "* && -z "${EDGED:-}" ]] && targets+=(--target edged)
[[ -z "${EDGE_ORIGIN:-}" ]] && targets+=(--target edge-origin)
[[ -z "${EDGELOAD:-}" ]] && targets+=(--target edgeload)
if ((${#targets[@]} > 0)) && [[ "${SKIP_BUILD:-0}" != 1 ]]; then
  log "building ${targets[*]} (Release)"
  "$root/scripts/build" release "${targets[@]}" >&2
fi
nginx_bin="$(command -v nginx || echo /usr/sbin/nginx)"
haproxy_bin="$(command -v haproxy || echo /usr/sbin/haproxy)"
if [[ " ${proxies[*]} " == *" edged "* ]]; then
  [[ -x "$edged_bin" ]] || die "no edged binary at $edged_bin"
fi
[[ -x "$origin_bin" ]] || die "no edge-origin binary at $origin_bin"
[[ -x "$edgeload_bin" ]] || die "no edgeload binary at $edgeload_bin"
command -v jq >/dev/null || die "jq is needed to read edgeload's JSON"
command -v openssl >/dev/null || die "the openssl tool is needed to make the certificates"

bench_start tls

# Certificates, the policy, the cases and the three proxies' configurations.
# shellcheck source=bench/tls/proxies.sh
. "$root/bench/tls/proxies.sh"

# server_tls: "KEY_BITS PROTOCOL CIPHER GROUP" of a handshake with the proxy
# (openssl s_client, limited to TLS_MAX like edgeload).
server_tls() {
  local -a limit=()
  [[ "$tls_max" == 1.2 ]] && limit=(-tls1_2)
  openssl s_client -connect "127.0.0.1:$proxy_port" -servername localhost "${limit[@]}" \
    </dev/null 2>/dev/null | awk '
      /^Server public key is/ { bits = $5 }
      /^New, / { sub(/,$/, "", $2); proto = $2; cipher = $NF }
      /^Server Temp Key:/ { sub(/,$/, "", $4); group = $4 }
      END { printf "%s %s %s %s\n", bits, proto, cipher, group }'
}

# ---- one measured run ------------------------------------------------------------
results="$tmp/tls.tsv" # case workers proxy round rate p50_us p99_us cpu_us full resumed failures protocol cipher
: >"$results"
failed_runs=0

measure() {
  local c="$1" w="$2" name="$3" round="$4" cert url="https://127.0.0.1:$proxy_port/"
  cert="$(case_cert "$c")"
  local -a flags
  read -ra flags <<<"$(case_flags "$c")"
  wait_port_free "$proxy_port" || die "port $proxy_port still in use"
  start_proxy "$name" "$cert" "$w"
  local dir="$tmp/$name-$cert-$w"
  if ! wait_ok "$url" "$bytes" "$proxy_pid" -k; then
    log "$name does not answer 200 with a $bytes-byte body on $url; its log:"
    tail -n 20 "$dir/out.log" "$dir/error.log" >&2 2>/dev/null || true
    stop_tree "$proxy_pid"
    proxy_pid=""
    failed_runs=$((failed_runs + 1))
    return
  fi
  local bits proto cipher group
  read -r bits proto cipher group < <(server_tls)
  if [[ "$bits" != "$(case_key_bits "$c")" ]]; then
    log "$name presents a ${bits:-?}-bit key, not the $cert certificate's $(case_key_bits "$c")"
    stop_tree "$proxy_pid"
    proxy_pid=""
    failed_runs=$((failed_runs + 1))
    return
  fi
  if [[ "$warmup" != 0 ]]; then
    "$edgeload_bin" -q -t "$threads" -c "$connections" -d "$warmup" "${flags[@]}" "$url" \
      >/dev/null 2>&1 || true
  fi
  local -a pids
  mapfile -t pids < <(descendants "$proxy_pid")
  local out="$tmp/edgeload-$c-$w-$name-$round.json" t0 t1
  t0="$(cpu_ticks "${pids[@]}")"
  "$edgeload_bin" -q --json -t "$threads" -c "$connections" -d "$duration" "${flags[@]}" "$url" \
    >"$out" 2>"$out.err" || true
  t1="$(cpu_ticks "${pids[@]}")"
  stop_tree "$proxy_pid"
  proxy_pid=""
  local line
  if ! line="$(jq -r '[.throughput, .latency_ns.p50, .latency_ns.p99, .responses, .failures,
        .handshakes.full, .handshakes.resumed] | map(tostring) | join(" ")' "$out" 2>/dev/null)"; then
    log "$name: edgeload failed: $(tail -n 3 "$out.err" 2>/dev/null)"
    failed_runs=$((failed_runs + 1))
    return
  fi
  local rps p50 p99 reqs failures full resumed cpu
  read -r rps p50 p99 reqs failures full resumed <<<"$line"
  if ((reqs == 0)); then
    log "$name: edgeload completed no request"
    failed_runs=$((failed_runs + 1))
    return
  fi
  local handshakes=$((full + resumed))
  if [[ "$c" == resumed ]] && ((resumed * 100 < handshakes * 95)); then
    log "$name: only $resumed of $handshakes handshakes resumed a session"
    failed_runs=$((failed_runs + 1))
    return
  fi
  if [[ "$c" == full-* ]] && ((resumed > 0)); then
    log "$name: $resumed handshakes resumed although no session was offered"
    failed_runs=$((failed_runs + 1))
    return
  fi
  cpu="$(cpu_us_per $((t1 - t0)) "$reqs")"
  ((failures == 0)) || log "$name: $failures failures (errors or status >= 400) in this run"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$c" "$w" "$name" "$round" "$rps" \
    "$((p50 / 1000))" "$((p99 / 1000))" "$cpu" "$full" "$resumed" "$failures" "${proto:-?}" "${cipher:-?} ${group:-?}" \
    >>"$results"
  log "$(printf '%-10s %s worker(s) %-7s round %s: %8.0f %-12s p50 %6d us  p99 %7d us  %7.2f CPU us each  handshakes %d full / %d resumed' \
    "$c" "$w" "$name" "$round" "$rps" "$(case_unit "$c")" "$((p50 / 1000))" "$((p99 / 1000))" "$cpu" "$full" "$resumed")"
}

# ---- main ------------------------------------------------------------------------
for w in "${workers_list[@]}"; do
  for cert in ecdsa rsa; do
    for name in "${proxies[@]}"; do
      write_config "$name" "$cert" "$w"
      check_config "$name" "$cert" "$w" >&2 ||
        die "generated $name configuration is invalid ($tmp/$name-$cert-$w)"
    done
  done
done

log "origins: ${#origin_ports[@]} x edge-origin, $size responses"
start_edge_origins "$size" "${origin_ports[@]}"
for w in "${workers_list[@]}"; do
  for c in "${cases[@]}"; do
    for ((round = 1; round <= rounds; round++)); do
      for name in "${proxies[@]}"; do
        measure "$c" "$w" "$name" "$round"
      done
    done
  done
done

# ---- report ------------------------------------------------------------------------
# med CASE WORKERS PROXY COLUMN (5 = rate, 6 = p50, 7 = p99, 8 = CPU)
med() {
  awk -F'\t' -v c="$1" -v w="$2" -v p="$3" -v k="$4" '$1 == c && $2 == w && $3 == p { print $k }' \
    "$results" | median
}

# paired CASE WORKERS A B -> "RATE | CPU | N/M": medians over the rounds where both
# ran of A's rate and CPU over B's in the same round, and the rounds where A's rate
# was at least B's.
paired() {
  awk -F'\t' -v c="$1" -v w="$2" -v a="$3" -v b="$4" '
    $1 == c && $2 == w && $3 == a { ra[$4] = $5; ca[$4] = $8 }
    $1 == c && $2 == w && $3 == b { rb[$4] = $5; cb[$4] = $8 }
    function median(v, n,   i, j, t) {
      for (i = 2; i <= n; i++) for (j = i; j > 1 && v[j - 1] > v[j]; j--) { t = v[j]; v[j] = v[j - 1]; v[j - 1] = t }
      return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
    }
    END {
      n = 0; ahead = 0
      for (r in ra) if ((r in rb) && rb[r] > 0 && cb[r] > 0) {
        n++; rr[n] = ra[r] / rb[r]; cr[n] = ca[r] / cb[r]; if (ra[r] >= rb[r]) ahead++
      }
      if (n == 0) { print "n/a | n/a | n/a"; exit }
      printf "%.2f | %.2f | %d/%d\n", median(rr, n), median(cr, n), ahead, n
    }' "$results"
}

report="$tmp/report.md"
{
  commit="$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)"
  [[ -n "$(git -C "$root" status --porcelain --untracked-files=no 2>/dev/null)" ]] &&
    commit="$commit (with local changes)"
  echo "## TLS: $(label "${proxies[0]}")$(for p in "${proxies[@]:1}"; do printf ', %s' "$(label "$p")"; done)"
  echo
  echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'); commit $commit"
  echo "- machine: $(nproc) CPUs ($(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)), $(uname -sr); load generator, proxy and origins share it"
  echo "- load: \`edgeload -t$threads -c$connections -d$duration\`$([[ "$warmup" == 0 ]] &&
    echo ', no warm-up' || echo " after a $warmup warm-up")$([[ -n "$tls_max" ]] && echo ", client limited to TLS $tls_max");" \
    "$rounds round(s), proxies alternating within each round"
  echo "- TLS: $policy on every proxy (TLS 1.2 + 1.3, the same cipher lists, server preference), tickets and TLS 1.2 session cache on; $(openssl version | cut -d' ' -f1-2)"
  echo "- origins: ${#origin_ports[@]} x edge-origin (1 thread each), $size responses, round robin, keep-alive to the origins"
  echo "- proxies:"
  for p in "${proxies[@]}"; do echo "  - $(label "$p") $(proxy_version "$p")"; done
  echo "- CPU: user+system time of all the proxy's processes during the measured run, per response (one response per handshake in the handshake cases)"
  echo "- command: \`PROXIES=\"${proxies[*]}\" CASES=\"${cases[*]}\" WORKERS_LIST=\"${workers_list[*]}\" ROUNDS=$rounds DURATION=$duration CONNECTIONS=$connections${tls_max:+ TLS_MAX=$tls_max} bench/tls/run.sh\`"
  echo
  echo "### Summary (median of $rounds round$( ((rounds > 1)) && echo s))"
  echo
  printf '| case | workers |'
  for p in "${proxies[@]}"; do printf ' %s rate | %s CPU µs |' "$(label "$p")" "$(label "$p")"; done
  for p in "${proxies[@]:1}"; do printf ' %s/%s rate | %s/%s CPU |' "$(label "${proxies[0]}")" "$(label "$p")" "$(label "${proxies[0]}")" "$(label "$p")"; done
  echo
  printf '|---|---:|'
  for _ in "${proxies[@]}"; do printf -- '---:|---:|'; done
  for _ in "${proxies[@]:1}"; do printf -- '---:|---:|'; done
  echo
  for c in "${cases[@]}"; do
    for w in "${workers_list[@]}"; do
      printf '| %s (%s) | %s |' "$c" "$(case_unit "$c")" "$w"
      for p in "${proxies[@]}"; do
        printf ' %s | %s |' "$(fmt "$(med "$c" "$w" "$p" 5)" '%.0f')" "$(fmt "$(med "$c" "$w" "$p" 8)" '%.2f')"
      done
      for p in "${proxies[@]:1}"; do
        printf ' %s | %s |' "$(ratio "$(med "$c" "$w" "${proxies[0]}" 5)" "$(med "$c" "$w" "$p" 5)")" \
          "$(ratio "$(med "$c" "$w" "${proxies[0]}" 8)" "$(med "$c" "$w" "$p" 8)")"
      done
      echo
    done
  done
  echo
  echo "Rate: handshakes/s (one request per connection) or req/s (keep-alive); higher is better."
  echo "CPU µs: per handshake or per request; lower is better."
  if ((${#proxies[@]} > 1)); then
    echo
    echo "### Paired by round (median of the per-round ratios)"
    echo
    echo "The machine's speed drifts between rounds; within a round the proxies run back to"
    echo "back. Each ratio below compares two runs of the same round, then takes the median;"
    echo "\"ahead\" counts the rounds where $(label "${proxies[0]}")'s rate was at least the other's."
    echo
    printf '| case | workers |'
    for p in "${proxies[@]:1}"; do printf ' %s/%s rate | CPU | ahead |' "$(label "${proxies[0]}")" "$(label "$p")"; done
    echo
    printf '|---|---:|'
    for _ in "${proxies[@]:1}"; do printf -- '---:|---:|---:|'; done
    echo
    for c in "${cases[@]}"; do
      for w in "${workers_list[@]}"; do
        printf '| %s | %s |' "$c" "$w"
        for p in "${proxies[@]:1}"; do
          printf ' %s |' "$(paired "$c" "$w" "${proxies[0]}" "$p")"
        done
        echo
      done
    done
  fi
  for c in "${cases[@]}"; do
    echo
    echo "### $(case_title "$c")"
    echo
    echo "| workers | proxy | $(case_unit "$c") | p50 ms | p99 ms | CPU µs/$([[ "$c" == keepalive ]] && echo req || echo handshake) | failures |"
    echo "|---:|---|---:|---:|---:|---:|---:|"
    for w in "${workers_list[@]}"; do
      for p in "${proxies[@]}"; do
        fails="$(awk -F'\t' -v c="$c" -v w="$w" -v p="$p" '$1 == c && $2 == w && $3 == p { e += $11 } END { print e + 0 }' "$results")"
        printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$w" "$(label "$p")" \
          "$(fmt "$(med "$c" "$w" "$p" 5)" '%.0f')" "$(ms "$(med "$c" "$w" "$p" 6)")" \
          "$(ms "$(med "$c" "$w" "$p" 7)")" "$(fmt "$(med "$c" "$w" "$p" 8)" '%.2f')" "$fails"
      done
    done
  done
  echo
  echo "### Every run"
  echo
  echo "| case | workers | proxy | round | rate | p50 ms | p99 ms | CPU µs | handshakes full | resumed | failures | negotiated (openssl s_client) |"
  echo "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"
  awk -F'\t' '{ name = ($3 == "haproxy") ? "HAProxy" : $3
    printf "| %s | %s | %s | %s | %.0f | %.2f | %.2f | %.2f | %d | %d | %d | %s %s |\n",
      $1, $2, name, $4, $5, $6 / 1000, $7 / 1000, $8, $9, $10, $11, $12, $13 }' "$results"
  if ((failed_runs > 0)); then
    echo
    echo "**$failed_runs run(s) failed; see the log above.**"
  fi
} >"$report"

bench_output "$report" "$results" tls.tsv
((failed_runs == 0))
