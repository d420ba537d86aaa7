# shellcheck shell=bash
# shellcheck disable=SC2154  # nginx_bin, edged_bin, origin_bin, tmp, ...: set by the including script
# Helpers shared by the side-by-side scripts (bench/e2e, bench/tls, bench/cache).
# Sourced, not run. The including script sets `bench_tag` (log prefix) and, for
# nginx_temp_paths, `nginx_bin`.

log() { echo "[${bench_tag:-bench}] $*" >&2; }
die() { echo "[${bench_tag:-bench}] error: $*" >&2; exit 1; }

# bench_parse_args "$@": the options every side-by-side script takes; sets
# out_file (--out FILE) and data_dir (--data DIR). `usage` is the caller's.
# shellcheck disable=SC2034  # out_file, data_dir: read by the including script
bench_parse_args() {
  out_file=""
  data_dir=""
  while (($#)); do
    case "$1" in
      --out)
        [[ $# -ge 2 ]] || { echo "run.sh: --out needs a file" >&2; exit 2; }
        out_file="$2"
        shift
        ;;
      --data)
        [[ $# -ge 2 ]] || { echo "run.sh: --data needs a directory" >&2; exit 2; }
        data_dir="$2"
        shift
        ;;
      -h | --help) usage; exit 0 ;;
      *) echo "run.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
    esac
    shift
  done
}

# size_bytes 64KiB -> 65536
size_bytes() {
  local s="$1" n unit
  n="${s%%[!0-9]*}"
  unit="${s#"$n"}"
  [[ -n "$n" ]] || die "bad size '$s'"
  case "$unit" in
    "" | B) echo "$n" ;;
    KiB | K | k) echo $((n * 1024)) ;;
    MiB | M) echo $((n * 1024 * 1024)) ;;
    *) die "bad size '$s' (use 512, 1KiB, 64KiB, 1MiB)" ;;
  esac
}

port_in_use() {
  if command -v ss >/dev/null 2>&1; then
    [[ -n "$(ss -Htln "sport = :$1" 2>/dev/null)" ]]
  else
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
  fi
}

# descendants PID: PID and every process below it, one per line.
descendants() {
  local f line rest
  local -a fields
  local -A children=()
  for f in /proc/[0-9]*/stat; do
    line="$(cat "$f" 2>/dev/null)" || continue
    rest="${line##*) }"
    read -ra fields <<<"$rest"
    local pid="${f#/proc/}"
    pid="${pid%/stat}"
    children[${fields[1]}]+=" $pid"
  done
  local -a queue=("$1")
  while ((${#queue[@]})); do
    local p="${queue[0]}"
    queue=("${queue[@]:1}")
    echo "$p"
    if [[ -n "${children[$p]:-}" ]]; then
      # shellcheck disable=SC2206
      queue+=(${children[$p]})
    fi
  done
}

# cpu_ticks PID...: utime + stime (fields 14 and 15 of /proc/PID/stat), summed.
cpu_ticks() {
  local total=0 p line rest
  local -a fields
  for p in "$@"; do
    line="$(cat "/proc/$p/stat" 2>/dev/null)" || continue
    rest="${line##*) }" # fields from 3 on: field N is fields[N-3]
    read -ra fields <<<"$rest"
    total=$((total + fields[11] + fields[12]))
  done
  echo "$total"
}

# cpu_us_per TICKS COUNT: CPU µs per unit of work from a tick difference.
cpu_us_per() {
  awk -v d="$1" -v hz="$(getconf CLK_TCK)" -v n="$2" \
    'BEGIN { if (n > 0) printf "%.2f", d / hz * 1e6 / n; else print "" }'
}

# stop_tree PID: SIGTERM to PID and its descendants, up to 10 s, then SIGKILL.
stop_tree() {
  local pid="$1" i
  local -a all
  mapfile -t all < <(descendants "$pid")
  kill -TERM "${all[@]}" 2>/dev/null || true
  for ((i = 0; i < 100; i++)); do
    kill -0 "${all[@]}" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "${all[@]}" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

wait_port_free() {
  local i
  for ((i = 0; i < 100; i++)); do
    port_in_use "$1" || return 0
    sleep 0.1
  done
  return 1
}

# wait_ok URL BYTES PID [CURL_ARG...]: until URL answers 200 with a BYTES-long
# body (15 s); fails early if PID exits.
wait_ok() {
  local url="$1" bytes="$2" pid="$3" i got
  shift 3
  for ((i = 0; i < 150; i++)); do
    kill -0 "$pid" 2>/dev/null || return 1
    got="$(curl -s -o /dev/null --max-time 2 -w '%{http_code} %{size_download}' "$@" "$url" || true)"
    [[ "$got" == "200 $bytes" ]] && return 0
    sleep 0.1
  done
  log "last answer from $url: '${got:-none}' (want '200 $bytes')"
  return 1
}

# nginx writes temporary files of every compiled-in module to its build-time
# paths unless told otherwise; point them all into DIR.
nginx_temp_paths() {
  local dir="$1" m
  mkdir -p "$dir"
  echo "client_body_temp_path $dir/body; proxy_temp_path $dir/proxy;"
  for m in fastcgi uwsgi scgi; do
    "$nginx_bin" -V 2>&1 | grep -q -- "--without-http_${m}_module" ||
      echo "${m}_temp_path $dir/$m;"
  done
}

# median: the median of the numbers on stdin, one per line ("" when none).
median() {
  sort -g | awk '{ v[NR] = $1 } END {
    if (NR == 0) { print ""; exit }
    if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b == 0) print "n/a"; else printf "%.2f", a / b }'; }
fmt() { awk -v v="$1" -v f="$2" 'BEGIN { if (v == "") print "n/a"; else printf f, v }'; }
ms() { awk -v v="$1" 'BEGIN { if (v == "") print "n/a"; else printf "%.2f", v / 1000 }'; }
label() { case "$1" in haproxy) echo HAProxy ;; varnish) echo Varnish ;; *) echo "$1" ;; esac; }

proxy_version() {
  case "$1" in
    edged) "$edged_bin" --version 2>&1 | head -n 1 | sed 's/^edged //' || true ;;
    nginx) "$nginx_bin" -v 2>&1 | sed 's/^nginx version: nginx\///' ;;
    haproxy) "$haproxy_bin" -v 2>&1 | head -n 1 | awk '{ print $3 }' ;;
    varnish) "$varnishd_bin" -V 2>&1 | head -n 1 | sed -E 's/.*varnish-([^ ]+).*/\1/' ;;
  esac
}

# start_edge_origins SIZE PORT...: one `edge-origin --threads 1` per port, pinned
# one per CPU unless PIN=0; appends to origin_pids and waits for 200 + SIZE bytes.
# Uses origin_bin, tmp, pin.
start_edge_origins() {
  local size="$1" bytes i port ncpu
  shift
  bytes="$(size_bytes "$size")"
  ncpu="$(nproc)"
  local -a ports=("$@") started=()
  for i in "${!ports[@]}"; do
    port="${ports[i]}"
    local -a prefix=()
    if [[ "${pin:-1}" == 1 ]] && command -v taskset >/dev/null; then
      prefix=(taskset -c "$((i % ncpu))")
    fi
    "${prefix[@]}" "$origin_bin" --listen "127.0.0.1:$port" --body-size "$size" \
      --threads 1 --id "origin-$((i + 1))" >"$tmp/origin-$port.log" 2>&1 &
    started+=($!)
    origin_pids+=($!)
  done
  for i in "${!ports[@]}"; do
    if ! wait_ok "http://127.0.0.1:${ports[i]}/" "$bytes" "${started[i]}"; then
      tail -n 20 "$tmp/origin-${ports[i]}.log" >&2 || true
      die "origin on port ${ports[i]} does not answer 200 with $bytes bytes"
    fi
  done
}

# origin_requests PORT...: requests the edge-origins on PORT... have served so far
# (the sum of their GET /stats counts, which include every /stats request: between
# two readings the origins served `second - first - (number of ports)` others).
origin_requests() {
  local total=0 port n
  for port in "$@"; do
    n="$(curl -s --max-time 2 "http://127.0.0.1:$port/stats" | sed -nE 's/.*"requests":([0-9]+).*/\1/p')"
    [[ -n "$n" ]] || die "origin on port $port: no request count from /stats"
    total=$((total + n))
  done
  echo "$total"
}

# parse_wrk FILE -> "requests req_per_s p50_us p99_us errors" from `wrk --latency`.
parse_wrk() {
  awk '
    function us(v) {
      if (v ~ /us$/) return v + 0
      if (v ~ /ms$/) return (v + 0) * 1000
      if (v ~ /m$/) return (v + 0) * 60e6
      if (v ~ /s$/) return (v + 0) * 1e6
      return v + 0
    }
    $1 == "50%" { p50 = us($2) }
    $1 == "99%" { p99 = us($2) }
    $2 == "requests" && $3 == "in" { reqs = $1 }
    $1 == "Requests/sec:" { rps = $2 }
    /Non-2xx or 3xx responses:/ { errors += $NF }
    /Socket errors:/ { gsub(/,/, ""); errors += $4 + $6 + $8 + $10 }
    END { printf "%d %.2f %.1f %.1f %d\n", reqs, rps, p50, p99, errors }
  ' "$1"
}

# bench_start TAG: the run's temporary directory ($tmp, kept on failure or with
# KEEP_TMP=1), the proxy and origin processes stopped on exit ($proxy_pid,
# $origin_pids), and the ports checked free ($origin_ports, $proxy_port).
bench_start() {
  tmp="$(mktemp -d "${TMPDIR:-/tmp}/edge-$1.XXXXXX")"
  chmod 755 "$tmp" # nginx workers run as an unprivileged user
  origin_pids=()
  proxy_pid=""
  trap bench_cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  local port
  for port in "${origin_ports[@]}" "$proxy_port"; do
    port_in_use "$port" && die "port $port is already in use (set ORIGIN_PORTS / PROXY_PORT)"
  done
  return 0
}

bench_cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  [[ -n "$proxy_pid" ]] && stop_tree "$proxy_pid"
  local p
  for p in "${origin_pids[@]}"; do stop_tree "$p"; done
  if [[ "${KEEP_TMP:-0}" == 1 || $rc -ne 0 ]]; then
    log "configs and logs kept in $tmp"
  else
    rm -rf "$tmp"
  fi
  exit "$rc"
}

# make_cert DIR NAME OPENSSL_REQ_ARGS...: a self-signed certificate for localhost
# (CN and SAN), valid for a day: DIR/NAME.crt, DIR/NAME.key and DIR/NAME.pem
# (both in one file, as HAProxy wants it).
make_cert() {
  local dir="$1" name="$2"
  shift 2
  openssl req -x509 -nodes -days 1 -subj /CN=localhost -addext subjectAltName=DNS:localhost \
    "$@" -keyout "$dir/$name.key" -out "$dir/$name.crt" 2>"$dir/$name.log" ||
    { cat "$dir/$name.log" >&2; die "openssl could not make the $name certificate"; }
  cat "$dir/$name.crt" "$dir/$name.key" >"$dir/$name.pem"
  chmod 644 "$dir/$name.key" "$dir/$name.pem"
}

# bench_output REPORT [DATA_FILE NAME]...: prints REPORT; with --data DIR copies
# each DATA_FILE to DIR/NAME; with --out FILE copies REPORT to FILE.
bench_output() {
  local report="$1"
  shift
  cat "$report"
  if [[ -n "$data_dir" ]]; then
    mkdir -p "$data_dir"
    while (($# >= 2)); do
      cp "$1" "$data_dir/$2"
      shift 2
    done
  fi
  if [[ -n "$out_file" ]]; then
    mkdir -p "$(dirname "$out_file")"
    cp "$report" "$out_file"
    log "report written to $out_file"
  fi
}
