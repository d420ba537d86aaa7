#!/usr/bin/env bash
# What one response costs each proxy, counted instead of timed: the
# user-space instructions it executes (valgrind's cachegrind) and the system
# calls it makes (perf), per handshake in the handshake cases and per request
# on keep-alive connections. CPU time on a shared machine scatters by 10 % and
# more from run to run; these counts do not (instructions) or barely
# (system calls, which depend on how many events one wakeup finds).
#
#   bench/tls/cost.sh [--out FILE]
#
# The proxies, certificates, policy and cases are those of bench/tls/run.sh,
# with 1 worker. Instructions: each proxy runs under cachegrind twice per
# case, for N1 and then N2 responses (closed loop, edgeload -c 8); the
# difference of the two totals over N2 - N1 is the cost of one response, so
# start-up, certificate loading and the first connections cancel out. nginx
# runs without its master process there (one process). System calls: each
# proxy runs natively under the load of bench/tls/run.sh (edgeload -t2 -c64)
# while `perf stat -e raw_syscalls:sys_enter` counts its processes' calls for
# DURATION; skipped when perf cannot read that tracepoint.
#
# Environment (defaults in brackets):
#   PROXIES ["edged nginx haproxy"]  CASES ["full-ecdsa full-rsa resumed keepalive"]
#   N1 [200]  N2 [1200]   responses per run in the handshake cases
#   KA_N1 [2000]  KA_N2 [12000]   the same for keep-alive
#   DURATION [4s]  system-call count window; SYSCALLS=0 skips that part
#   SIZE [1KiB]  ORIGIN_PORTS ["18001 18002"]  PROXY_PORT [18443]  TLS_MAX [""]
#   EDGED, EDGE_ORIGIN, EDGELOAD  binaries [build/release/...]
#   SKIP_BUILD=1 do not run scripts/build; KEEP_TMP=1 keep configs and logs
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
bench_tag=tls-cost
# shellcheck source=bench/lib.sh
. "$root/bench/lib.sh"
usage() { sed -n '2,29s/^# \{0,1\}//p' "$0"; }
bench_parse_args "$@"

read -ra proxies <<<"${PROXIES:-edged nginx haproxy}"
read -ra cases <<<"${CASES:-full-ecdsa full-rsa resumed keepalive}"
read -ra origin_ports <<<"${ORIGIN_PORTS:-18001 18002}"
n1="${N1:-200}" n2="${N2:-1200}" ka_n1="${KA_N1:-2000}" ka_n2="${KA_N2:-12000}"
duration="${DURATION:-4s}"
size="${SIZE:-1KiB}"
connections=64
tls_max="${TLS_MAX:-}"
proxy_port="${PROXY_PORT:-18443}"
edged_bin="${EDGED:-$root/build/release/edged}"
origin_bin="${EDGE_ORIGIN:-$root/build/release/edge-origin}"
edgeload_bin="${EDGELOAD:-$root/build/release/edgeload}"
for v in "$n1" "$n2" "$ka_n1" "$ka_n2"; do
  [[ "$v" =~ ^[1-9][0-9]*$ ]] || die "N1, N2, KA_N1 and KA_N2 must be positive numbers"
done
((n2 > n1 && ka_n2 > ka_n1)) || die "N2 must be larger than N1 (and KA_N2 than KA_N1)"
for c in "${cases[@]}"; do
  case "$c" in
    full-ecdsa | full-rsa | resumed | keepalive) ;;
    *) die "unknown case '$c' (full-ecdsa, full-rsa, resumed, keepalive)" ;;
  esac
done
bytes="$(size_bytes "$size")"

"$root/scripts/bootstrap" --bench
command -v valgrind >/dev/null || die "valgrind is needed to count instructions (apt-get install valgrind)"
if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
  targets=()
  [[ -z "${EDGED:-}" ]] && targets+=(--target edged)
  [[ -z "${EDGE_ORIGIN:-}" ]] && targets+=(--target edge-origin)
  [[ -z "${EDGELOAD:-}" ]] && targets+=(--target edgeload)
  ((${#targets[@]} > 0)) && "$root/scripts/build" release "${targets[@]}" >&2
fi
nginx_bin="$(command -v nginx || echo /usr/sbin/nginx)"
haproxy_bin="$(command -v haproxy || echo /usr/sbin/haproxy)"
syscalls="${SYSCALLS:-1}"
if [[ "$syscalls" == 1 ]] && ! perf stat -e raw_syscalls:sys_enter -x, true >/dev/null 2>&1; then
  log "perf cannot count raw_syscalls:sys_enter here: system calls are not counted"
  syscalls=0
fi

bench_start tls-cost
# shellcheck source=bench/tls/proxies.sh
. "$root/bench/tls/proxies.sh"
for cert in ecdsa rsa; do
  for name in "${proxies[@]}"; do
    write_config "$name" "$cert" 1
    check_config "$name" "$cert" 1 >&2 || die "generated $name configuration is invalid"
  done
done
start_edge_origins "$size" "${origin_ports[@]}"
url="https://127.0.0.1:$proxy_port/"

# instructions CASE PROXY N -> total instructions of a run serving N responses
instructions() {
  local c="$1" name="$2" n="$3" cert out
  cert="$(case_cert "$c")"
  out="$tmp/cachegrind-$c-$name-$n.out"
  local -a flags
  read -ra flags <<<"$(case_flags "$c")"
  wait_port_free "$proxy_port" || die "port $proxy_port still in use"
  local -a proxy_wrap=(valgrind --tool=cachegrind --cache-sim=no --branch-sim=no
    "--cachegrind-out-file=$out")
  start_proxy "$name" "$cert" 1
  if ! wait_ok "$url" "$bytes" "$proxy_pid" -k; then
    tail -n 20 "$tmp/$name-$cert-1/out.log" >&2 || true
    die "$name under valgrind does not answer 200 on $url"
  fi
  local done_
  done_="$("$edgeload_bin" -q --json -t 1 -c 8 -n "$n" --timeout 60s "${flags[@]}" "$url" |
    jq -r '"\(.responses) \(.failures)"')"
  stop_tree "$proxy_pid"
  proxy_pid=""
  [[ "$done_" == "$n 0" ]] || die "$name: edgeload under valgrind: '$done_' (want '$n 0')"
  awk '/^summary:/ { print $2 }' "$out"
}

# syscalls CASE PROXY -> "SYSCALLS_PER_RESPONSE"
syscalls_per_response() {
  local c="$1" name="$2" cert secs
  cert="$(case_cert "$c")"
  secs="${duration%s}"
  local -a flags
  read -ra flags <<<"$(case_flags "$c")"
  wait_port_free "$proxy_port" || die "port $proxy_port still in use"
  local -a proxy_wrap=()
  start_proxy "$name" "$cert" 1
  wait_ok "$url" "$bytes" "$proxy_pid" -k || die "$name does not answer 200 on $url"
  local pids
  pids="$(descendants "$proxy_pid" | paste -sd, -)"
  local load="$tmp/syscalls-$c-$name.json" count
  "$edgeload_bin" -q --json -t 2 -c "$connections" -d "$((secs + 2))s" "${flags[@]}" "$url" >"$load" &
  local lp=$!
  sleep 1
  count="$(perf stat -e raw_syscalls:sys_enter -x, -p "$pids" -- sleep "$secs" 2>&1 >/dev/null |
    awk -F, '/raw_syscalls:sys_enter/ { print $1 }')"
  wait "$lp"
  stop_tree "$proxy_pid"
  proxy_pid=""
  jq -r --arg n "$count" --arg s "$secs" '($n | tonumber) / (.throughput * ($s | tonumber)) | . * 10 | round / 10' "$load"
}

results="$tmp/cost.tsv" # case proxy instructions_per_response syscalls_per_response
: >"$results"
for c in "${cases[@]}"; do
  a="$n1" b="$n2"
  [[ "$c" == keepalive ]] && a="$ka_n1" b="$ka_n2"
  for name in "${proxies[@]}"; do
    log "$c: $name under cachegrind, $a then $b responses"
    ia="$(instructions "$c" "$name" "$a")"
    ib="$(instructions "$c" "$name" "$b")"
    per=$(((ib - ia) / (b - a)))
    sc=""
    [[ "$syscalls" == 1 ]] && sc="$(syscalls_per_response "$c" "$name")"
    log "$c: $name: $per instructions per response${sc:+, $sc system calls}"
    printf '%s\t%s\t%s\t%s\n' "$c" "$name" "$per" "$sc" >>"$results"
  done
done

value() { awk -F'\t' -v c="$1" -v p="$2" -v k="$3" '$1 == c && $2 == p { print $k }' "$results"; }
report="$tmp/report.md"
{
  commit="$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)"
  [[ -n "$(git -C "$root" status --porcelain --untracked-files=no 2>/dev/null)" ]] &&
    commit="$commit (with local changes)"
  echo "## TLS cost per response: $(label "${proxies[0]}")$(for p in "${proxies[@]:1}"; do printf ', %s' "$(label "$p")"; done)"
  echo
  echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'); commit $commit; $(valgrind --version); $(openssl version | cut -d' ' -f1-2)"
  echo "- 1 worker; $policy; $size responses from ${#origin_ports[@]} x edge-origin"
  echo "- instructions: user space, cachegrind, (run of N2 - run of N1) / (N2 - N1): N1/N2 = $n1/$n2 handshakes, $ka_n1/$ka_n2 keep-alive requests; edgeload -t1 -c8"
  [[ "$syscalls" == 1 ]] && echo "- system calls: \`perf stat -e raw_syscalls:sys_enter\` on the proxy's processes for $duration under edgeload -t2 -c$connections, over the responses in that time"
  echo "- command: \`PROXIES=\"${proxies[*]}\" CASES=\"${cases[*]}\" bench/tls/cost.sh\`"
  echo
  printf '| case |'
  for p in "${proxies[@]}"; do printf ' %s instructions |' "$(label "$p")"; done
  for p in "${proxies[@]:1}"; do printf ' %s/%s |' "$(label "${proxies[0]}")" "$(label "$p")"; done
  [[ "$syscalls" == 1 ]] && for p in "${proxies[@]}"; do printf ' %s syscalls |' "$(label "$p")"; done
  echo
  printf '|---|'
  for _ in "${proxies[@]}" "${proxies[@]:1}"; do printf -- '---:|'; done
  [[ "$syscalls" == 1 ]] && for _ in "${proxies[@]}"; do printf -- '---:|'; done
  echo
  for c in "${cases[@]}"; do
    printf '| %s |' "$c"
    for p in "${proxies[@]}"; do printf ' %s |' "$(value "$c" "$p" 3)"; done
    for p in "${proxies[@]:1}"; do printf ' %s |' "$(ratio "$(value "$c" "${proxies[0]}" 3)" "$(value "$c" "$p" 3)")"; done
    [[ "$syscalls" == 1 ]] && for p in "${proxies[@]}"; do printf ' %s |' "$(value "$c" "$p" 4)"; done
    echo
  done
  echo
  echo "Per handshake (one request per connection) or per keep-alive request; lower is better."
} >"$report"

bench_output "$report" "$results" cost.tsv
