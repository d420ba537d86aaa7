# bench/tls/proxies.sh: what bench/tls/run.sh and bench/tls/instructions.sh
# share: the test certificates, the security policy, the cases, and each
# proxy's configuration, check and start. Sourced after bench_start (it writes
# the certificates to $tmp/certs); needs proxy_port, origin_ports, size,
# tls_max and the binaries' paths (edged_bin, nginx_bin, haproxy_bin).
# shellcheck shell=bash

# ---- certificates and policy ------------------------------------------------------
# Self-signed, CN and SAN localhost, valid for a day. HAProxy wants the key in the
# certificate's file.
certs="$tmp/certs"
mkdir -p "$certs"
make_cert "$certs" ecdsa -newkey ec -pkeyopt ec_paramgen_curve:P-256
make_cert "$certs" rsa -newkey rsa:2048

# ELBSecurityPolicy-TLS13-1-2-2021-06, as src/tls/security_policy.cpp defines it.
policy=ELBSecurityPolicy-TLS13-1-2-2021-06
tls12_ciphers="ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES128-SHA256:ECDHE-RSA-AES128-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES256-SHA384:ECDHE-RSA-AES256-SHA384"
tls13_suites="TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"

case_cert() { [[ "$1" == full-rsa ]] && echo rsa || echo ecdsa; }
case_key_bits() { [[ "$1" == full-rsa ]] && echo 2048 || echo 256; }
case_unit() { [[ "$1" == keepalive ]] && echo "req/s" || echo "handshakes/s"; }
case_title() {
  case "$1" in
    full-ecdsa) echo "Full handshakes, ECDSA P-256 certificate (one request per connection)" ;;
    full-rsa) echo "Full handshakes, RSA 2048 certificate (one request per connection)" ;;
    resumed) echo "Resumed handshakes, ECDSA P-256 (one request per connection, session resumed)" ;;
    keepalive) echo "HTTPS keep-alive, ECDSA P-256 ($size responses, $connections connections)" ;;
  esac
}
case_flags() {
  local -a f=()
  case "$1" in
    full-*) f+=(--no-keepalive) ;;
    resumed) f+=(--no-keepalive --tls-resume) ;;
  esac
  [[ -n "$tls_max" ]] && f+=(--tls-max "$tls_max")
  echo "${f[*]}"
}

# ---- proxies ---------------------------------------------------------------------
# write_config PROXY CERT WORKERS -> configuration in $tmp/PROXY-CERT-WORKERS
write_config() {
  local name="$1" cert="$2" w="$3" dir="$tmp/$1-$2-$3" port i
  mkdir -p "$dir"
  case "$name" in
    edged)
      {
        echo "workers: $w"
        echo "admin: off"
        echo "access_log: { path: off }"
        echo "listeners:"
        echo "  - name: bench"
        echo "    listen: 127.0.0.1:$proxy_port"
        echo "    protocol: HTTPS"
        echo "    tls:"
        echo "      policy: $policy"
        echo "      certificates:"
        echo "        - { cert: $certs/$cert.crt, key: $certs/$cert.key }"
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
        echo "worker_processes $w;"
        echo "pid $dir/nginx.pid;"
        echo "error_log $dir/error.log warn;"
        echo "events { worker_connections 4096; }"
        echo "http {"
        echo "  access_log off;"
        echo "  keepalive_requests 1000000;"
        echo "  $(nginx_temp_paths "$dir/temp")"
        echo "  upstream origins {"
        for port in "${origin_ports[@]}"; do echo "    server 127.0.0.1:$port;"; done
        echo "    keepalive 64;"
        echo "    keepalive_requests 1000000;"
        echo "  }"
        echo "  server {"
        echo "    listen 127.0.0.1:$proxy_port ssl reuseport;"
        echo "    ssl_certificate $certs/$cert.crt;"
        echo "    ssl_certificate_key $certs/$cert.key;"
        echo "    ssl_protocols TLSv1.2 TLSv1.3;"
        echo "    ssl_ciphers $tls12_ciphers;"
        echo "    ssl_conf_command Ciphersuites $tls13_suites;"
        echo "    ssl_prefer_server_ciphers on;"
        echo "    ssl_session_cache shared:SSL:10m;"
        echo "    ssl_session_tickets on;"
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
        echo "  nbthread $w"
        echo "  maxconn 4096"
        echo "  ssl-default-bind-ciphers $tls12_ciphers"
        echo "  ssl-default-bind-ciphersuites $tls13_suites"
        echo "  ssl-default-bind-options ssl-min-ver TLSv1.2 ssl-max-ver TLSv1.3"
        echo "defaults"
        echo "  mode http"
        echo "  option http-keep-alive"
        echo "  http-reuse always"
        echo "  timeout connect 5s"
        echo "  timeout client 30s"
        echo "  timeout server 30s"
        echo "  timeout http-keep-alive 30s"
        echo "frontend bench"
        echo "  bind 127.0.0.1:$proxy_port ssl crt $certs/$cert.pem alpn http/1.1"
        echo "  default_backend origins"
        echo "backend origins"
        echo "  balance roundrobin"
        i=1
        for port in "${origin_ports[@]}"; do
          echo "  server o$i 127.0.0.1:$port"
          i=$((i + 1))
        done
      } >"$dir/haproxy.cfg"
      ;;
  esac
}

check_config() {
  local dir="$tmp/$1-$2-$3"
  case "$1" in
    edged) "$edged_bin" --check-config -c "$dir/edged.yaml" ;;
    nginx) "$nginx_bin" -t -q -e "$dir/error.log" -c "$dir/nginx.conf" ;;
    haproxy) "$haproxy_bin" -c -q -f "$dir/haproxy.cfg" ;;
  esac
}

# start_proxy PROXY CERT WORKERS -> proxy_pid. With proxy_wrap set (an array:
# a command and its arguments, valgrind say), the proxy runs under it, and
# nginx without its master process (one process, the worker).
start_proxy() {
  local dir="$tmp/$1-$2-$3" nginx_globals='daemon off;'
  local -a wrap=()
  if declare -p proxy_wrap >/dev/null 2>&1; then
    wrap=("${proxy_wrap[@]}")
    ((${#wrap[@]} > 0)) && nginx_globals='daemon off; master_process off;'
  fi
  case "$1" in
    edged) "${wrap[@]}" "$edged_bin" -c "$dir/edged.yaml" >"$dir/out.log" 2>&1 & ;;
    nginx)
      "${wrap[@]}" "$nginx_bin" -e "$dir/error.log" -c "$dir/nginx.conf" -g "$nginx_globals" \
        >"$dir/out.log" 2>&1 &
      ;;
    haproxy) "${wrap[@]}" "$haproxy_bin" -db -f "$dir/haproxy.cfg" >"$dir/out.log" 2>&1 & ;;
  esac
  proxy_pid=$!
}
