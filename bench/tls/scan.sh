#!/usr/bin/env bash
# TLS scan: runs two external TLS scanners from Debian, testssl.sh and sslscan,
# against an edged HTTPS listener with a security policy, and fails when they find
# a weak protocol, a weak cipher or a known vulnerability.
#
#   bench/tls/scan.sh [--out FILE] [--data DIR]
#
# The listener has an ECDSA P-256 and an RSA 2048 certificate for the same name
# (so the policy's ECDHE-RSA suites are reachable too) and answers every request
# with a fixed 200 (HTTP-level checks such as BREACH see a real response).
#
# A scan fails when:
#   - a protocol below the policy's lowest is offered (for the default policy:
#     SSLv2, SSLv3, TLS 1.0 or TLS 1.1),
#   - a cipher with fewer than 128 bits, or RC4, DES/3DES, NULL, EXPORT,
#     anonymous or MD5 suites, is accepted (sslscan),
#   - TLS compression, insecure renegotiation or Heartbleed shows (sslscan),
#   - testssl.sh reports a finding of severity MEDIUM, HIGH or CRITICAL, other
#     than those about the scan's own self-signed one-day certificate (cert_*)
#     and the response's HTTP security headers (HSTS and the like are the
#     application's to send), which are listed apart.
# testssl.sh's LOW and INFO findings are listed in the report, not failed on
# (for the ALB policies with CBC suites it reports LUCKY13 as LOW, because those
# policies offer the ECDHE-*-AES*-SHA256/384 CBC suites by definition; the
# `-Res-` policy does not).
# Prints a markdown report to stdout (and FILE with --out; --data DIR keeps the
# scanners' JSON/XML output); progress goes to stderr. Exits 1 if a scan failed.
#
# Environment (defaults in brackets):
#   POLICIES   security policies to scan, one listener each
#              ["ELBSecurityPolicy-TLS13-1-2-2021-06"]
#   PORT [18453]   EDGED [build/release/edged]   SKIP_BUILD=1 do not build
#   TESTSSL_ARGS   extra testssl.sh arguments [""]
#   KEEP_TMP=1 keep configs and logs
set -euo pipefail

usage() { sed -n '2,35s/^# \{0,1\}//p' "$0"; }

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
bench_tag=tls-scan
# shellcheck source=bench/lib.sh
. "$root/bench/lib.sh"
bench_parse_args "$@"

read -ra policies <<<"${POLICIES:-ELBSecurityPolicy-TLS13-1-2-2021-06}"
proxy_port="${PORT:-18453}"
edged_bin="${EDGED:-$root/build/release/edged}"
read -ra testssl_extra <<<"${TESTSSL_ARGS:-}"
origin_ports=()
((${#policies[@]} > 0)) || die "POLICIES must not be empty"

"$root/scripts/bootstrap" --bench
if [[ -z "${EDGED:-}" && "${SKIP_BUILD:-0}" != 1 ]]; then
  log "building edged (Release)"
  "$root/scripts/build" release --target edged >&2
fi
[[ -x "$edged_bin" ]] || die "no edged binary at $edged_bin"
testssl_bin="$(command -v testssl || command -v testssl.sh || true)"
[[ -n "$testssl_bin" ]] || die "testssl.sh is not installed (scripts/bootstrap --bench installs it)"
command -v sslscan >/dev/null || die "sslscan is not installed (scripts/bootstrap --bench installs it)"
command -v jq >/dev/null || die "jq is needed to read testssl.sh's JSON"
command -v openssl >/dev/null || die "the openssl tool is needed to make the certificates"

bench_start tls-scan
certs="$tmp/certs"
mkdir -p "$certs"
make_cert "$certs" ecdsa -newkey ec -pkeyopt ec_paramgen_curve:P-256
make_cert "$certs" rsa -newkey rsa:2048

failed=0
report="$tmp/report.md"
{
  echo "## TLS scan of edged"
  echo
  echo "- date: $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs"
  echo "- edged: $("$edged_bin" --version 2>/dev/null | head -n 1)"
  echo "- $("$testssl_bin" --version 2>/dev/null | grep -m1 -o 'testssl.sh *[0-9][^ ]*' || echo testssl.sh), sslscan $(sslscan --version 2>/dev/null | grep -m1 -o '[0-9][0-9.]*' || echo '?'), $(openssl version)"
  echo "- command: \`POLICIES=\"${policies[*]}\" bench/tls/scan.sh\`"
  echo "- listener: an ECDSA P-256 and an RSA 2048 certificate for localhost; a fixed 200 response"
} >"$report"

# scan POLICY: one listener with POLICY, both scanners, results appended to the report.
scan() {
  local policy="$1" dir="$tmp/$1"
  mkdir -p "$dir"
  cat >"$dir/edged.yaml" <<EOF
workers: 1
admin: off
access_log: { path: off }
listeners:
  - name: scan
    listen: 127.0.0.1:$proxy_port
    protocol: HTTPS
    tls:
      policy: $policy
      certificates:
        - { cert: $certs/ecdsa.crt, key: $certs/ecdsa.key }
        - { cert: $certs/rsa.crt, key: $certs/rsa.key }
    default_action: { fixed_response: { status: 200, content_type: text/plain, body: "scan" } }
EOF
  wait_port_free "$proxy_port" || die "port $proxy_port still in use"
  "$edged_bin" -c "$dir/edged.yaml" >"$dir/out.log" 2>&1 &
  proxy_pid=$!
  local i
  for ((i = 0; i < 100; i++)); do
    curl -skf -o /dev/null "https://localhost:$proxy_port/" && break
    kill -0 "$proxy_pid" 2>/dev/null || { tail -n 20 "$dir/out.log" >&2; die "edged did not start with $policy"; }
    sleep 0.1
  done
  ((i < 100)) || die "edged does not answer on $proxy_port"

  log "$policy: sslscan"
  sslscan --no-colour --show-sigs --xml="$dir/sslscan.xml" "127.0.0.1:$proxy_port" >"$dir/sslscan.txt" 2>&1 ||
    log "sslscan exited non-zero (its output is in $dir/sslscan.txt)"
  log "$policy: testssl.sh (a few minutes)"
  "$testssl_bin" --quiet --color 0 --warnings off --nodns min --ip 127.0.0.1 \
    --jsonfile "$dir/testssl.json" "${testssl_extra[@]}" "localhost:$proxy_port" \
    >"$dir/testssl.txt" 2>&1 || true # exit code = number of findings by design
  stop_tree "$proxy_pid"
  proxy_pid=""

  local -a problems=() lows=() aside=()
  # sslscan: protocols, ciphers, compression, renegotiation, Heartbleed.
  local lowest
  case "$policy" in
    *TLS13-1-3*) lowest=1.3 ;;
    ELBSecurityPolicy-2016-08) lowest=1.0 ;;
    *) lowest=1.2 ;;
  esac
  [[ -s "$dir/sslscan.xml" ]] || problems+=("sslscan wrote no XML")
  local protocols
  protocols="$(grep -o '<protocol type="[a-z]*" version="[0-9.]*" enabled="1"' "$dir/sslscan.xml" 2>/dev/null |
    sed 's/.*type="\([a-z]*\)" version="\([0-9.]*\)".*/\1\2/' | tr '\n' ' ' || true)"
  local p
  for p in $protocols; do
    case "$p" in
      ssl*) problems+=("protocol ${p} offered") ;;
      tls*) awk -v v="${p#tls}" -v lo="$lowest" 'BEGIN { exit !(v + 0 < lo + 0) }' &&
        problems+=("protocol TLS ${p#tls} offered (policy's lowest is TLS $lowest)") ;;
    esac
  done
  local ciphers
  ciphers="$(grep -o '<cipher status="[a-z]*" sslversion="[^"]*" bits="[0-9]*" cipher="[^"]*"' "$dir/sslscan.xml" 2>/dev/null |
    sed 's/.*sslversion="\([^"]*\)" bits="\([0-9]*\)" cipher="\([^"]*\)".*/\1 \2 \3/' || true)"
  local version bits name
  while read -r version bits name; do
    [[ -n "$name" ]] || continue
    if ((bits < 128)) || [[ "$name" =~ (RC4|DES|NULL|EXP|anon|ADH|AECDH|MD5) ]]; then
      problems+=("weak cipher accepted: $version $name ($bits bits)")
    fi
  done <<<"$ciphers"
  grep -q '<compression supported="1"' "$dir/sslscan.xml" 2>/dev/null && problems+=("TLS compression")
  grep -q '<renegotiation supported="1" secure="0"' "$dir/sslscan.xml" 2>/dev/null && problems+=("insecure renegotiation")
  grep -q 'vulnerable="1"' "$dir/sslscan.xml" 2>/dev/null && problems+=("sslscan: Heartbleed")

  # testssl.sh: every finding with its severity.
  if [[ -s "$dir/testssl.json" ]] && jq -e 'type == "array"' "$dir/testssl.json" >/dev/null 2>&1; then
    local line
    # Findings about the scan's own throwaway certificate (self-signed, valid for a
    # day, no CRL/OCSP) and about the application's HTTP response headers (HSTS and
    # other security headers are the app's or a rule's to add) are not the TLS
    # stack's: they are listed apart.
    local not_tls='^(cert_|security_headers$|HSTS$)'
    while IFS= read -r line; do problems+=("testssl.sh: $line"); done < <(jq -r --arg skip "$not_tls" \
      '.[] | select(.severity == "MEDIUM" or .severity == "HIGH" or .severity == "CRITICAL")
           | select(.id | test($skip) | not) | "\(.severity) \(.id): \(.finding)"' \
      "$dir/testssl.json")
    while IFS= read -r line; do lows+=("$line"); done < <(jq -r --arg skip "$not_tls" \
      '.[] | select(.severity == "LOW") | select(.id | test($skip) | not) | "\(.id): \(.finding)"' "$dir/testssl.json")
    while IFS= read -r line; do aside+=("$line"); done < <(jq -r --arg skip "$not_tls" \
      '.[] | select(.severity != "OK" and .severity != "INFO") | select(.id | test($skip))
           | "\(.severity) \(.id): \(.finding)"' "$dir/testssl.json" | sort -u)
    grep -q '"id" *: *"scanProblem"' "$dir/testssl.json" && problems+=("testssl.sh reported a scan problem (see testssl.txt)")
  else
    problems+=("testssl.sh wrote no JSON (see $dir/testssl.txt)")
  fi

  local vulns
  vulns="$(jq -r '[.[] | select(.id | test("^(heartbleed|CCS|ticketbleed|ROBOT|secure_renego|secure_client_renego|CRIME_TLS|BREACH|POODLE_SSL|fallback_SCSV|SWEET32|FREAK|DROWN|LOGJAM|BEAST|LUCKY13|RC4|winshock)$")) | "\(.id) \(.severity)"] | join(", ")' \
    "$dir/testssl.json" 2>/dev/null || true)"
  {
    echo
    echo "### $policy"
    echo
    echo "- protocols offered (sslscan): ${protocols:-none}"
    echo "- ciphers accepted (sslscan):"
    echo
    echo '```'
    if [[ -n "$ciphers" ]]; then printf '%s\n' "$ciphers"; else echo "(none)"; fi
    echo '```'
    echo
    echo "- testssl.sh vulnerability checks (id and severity): ${vulns:-n/a}"
    if ((${#lows[@]} > 0)); then
      echo "- testssl.sh LOW findings (listed, not failed on):"
      printf '  - %s\n' "${lows[@]}"
    fi
    if ((${#aside[@]} > 0)); then
      echo "- testssl.sh findings about the scan's self-signed one-day certificate or the"
      echo "  response's HTTP headers (not the TLS stack; not failed on):"
      printf '  - %s\n' "${aside[@]}"
    fi
    if ((${#problems[@]} == 0)); then
      echo "- **result: pass** — no weak protocol, no weak cipher, no MEDIUM/HIGH/CRITICAL finding"
    else
      echo "- **result: FAIL**"
      printf '  - %s\n' "${problems[@]}"
    fi
  } >>"$report"
  if ((${#problems[@]} > 0)); then
    failed=$((failed + 1))
    log "$policy: FAIL (${#problems[@]} problem(s))"
  else
    log "$policy: pass"
  fi
  if [[ -n "$data_dir" ]]; then
    mkdir -p "$data_dir/$policy"
    cp "$dir"/sslscan.xml "$dir"/sslscan.txt "$dir"/testssl.json "$dir"/testssl.txt "$data_dir/$policy/" 2>/dev/null || true
  fi
}

for policy in "${policies[@]}"; do scan "$policy"; done

cat "$report"
[[ -n "$out_file" ]] && cp "$report" "$out_file"
((failed == 0))
