#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# HTTP/2 clients through dfproxy, HAProxy and nginx (docs/benchmarks.md "HTTP/2 clients"): h2load speaks h2c (prior
# knowledge) to each proxy, which resolves the :authority through the same dnsmasq and forwards over HTTP/1.1 to
# one nginx origin on loopback. 100 streams at once (-c 10 connections x -m 10 streams), 100 B and 64 KiB
# responses; each cell is the median of --repeat runs. Prints a markdown table of requests/s, each proxy's CPU time
# per request and its peak RSS.
#
#   bench/h2load.sh                           # 3 runs of 10 s per cell (~4 min)
#   bench/h2load.sh --repeat 1 --duration 3   # smoke run
#   INSTRUMENT=callgrind bench/h2load.sh      # dfproxy's user-space instructions per request, per cell
#   INSTRUMENT=massif bench/h2load.sh         # dfproxy's peak heap while serving, per cell (ms_print the file)
#   IDLE=200 bench/h2load.sh                  # dfproxy's memory per idle h2 connection (bench/h2idle.py)
#
# With INSTRUMENT, only dfproxy runs, under valgrind, one process per cell, each serving a fixed h2load -n
# $REQUESTS (default 20000 for 100 B, a fifth of it for 64 KiB) -c 10 -m 10: a deterministic figure for comparing
# two builds on a loaded machine. callgrind counts what bench/instructions.sh counts (the worker's event handling
# and the access-log writer, not start-up); divide by the requests h2load completed.
# Needs root (dnsmasq on port 53 of 127.0.0.55) and: h2load (nghttp2-client) nginx haproxy dnsmasq-base curl
# (valgrind with INSTRUMENT). Environment: DFPROXY (binary; default build/release/service/dfproxy), RUN (scratch
# dir, default /tmp/bench-h2). Never part of scripts/test or CI.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
dfproxy=${DFPROXY:-$root/build/release/service/dfproxy}
run=${RUN:-/tmp/bench-h2}
repeat=3
duration=10
peers="dfproxy haproxy nginx"
instrument=${INSTRUMENT:-}
requests=${REQUESTS:-20000}
dns_ip=127.0.0.55
origin_port=18280
declare -A port=([dfproxy]=18281 [haproxy]=18282 [nginx]=18283)

while [ $# -gt 0 ]; do
    case $1 in
        --repeat) repeat=$2; shift 2 ;;
        --duration) duration=$2; shift 2 ;;
        --peers) peers=$2; shift 2 ;;
        -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
        *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done
for tool in h2load nginx haproxy dnsmasq curl; do
    command -v "$tool" >/dev/null ||
        { echo "$tool is missing: apt-get install -y nghttp2-client nginx haproxy dnsmasq-base curl" >&2; exit 2; }
done
case $instrument in
    "") ;;
    callgrind|massif) command -v valgrind >/dev/null || { echo "valgrind is missing: apt-get install -y valgrind" >&2; exit 2; } ;;
    *) echo "INSTRUMENT is callgrind or massif, not $instrument" >&2; exit 2 ;;
esac
[ -x "$dfproxy" ] ||
    { echo "no dfproxy binary at $dfproxy (cmake --build --preset release --target dfproxy)" >&2; exit 2; }

pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap cleanup EXIT
rm -rf "$run"
mkdir -p "$run"/{www,origin/tmp,nginx/tmp,haproxy,dfproxy}

wait_port() { # valgrind takes a while to start dfproxy on a loaded machine
    for _ in $(seq 600); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done
    echo "port $1 did not open" >&2
    exit 1
}

# DNS: every *.bench.test name is 127.0.0.1, for all three proxies alike.
dnsmasq --keep-in-foreground --conf-file=/dev/null --no-resolv --no-hosts --bind-interfaces --listen-address=$dns_ip \
    --port=53 --local=/bench.test/ --address=/bench.test/127.0.0.1 --local-ttl=30 --user=root --pid-file= \
    >"$run/dnsmasq.log" 2>&1 &
pids+=($!)

# The origin: nginx, HTTP/1.1 with keep-alive, /small (100 B) and /64k (65536 B).
head -c 100 /dev/zero | tr '\0' 'a' >"$run/www/small"
head -c 65536 /dev/zero | tr '\0' 'b' >"$run/www/64k"
cat >"$run/origin/nginx.conf" <<EOF
worker_processes 1;
pid $run/origin/nginx.pid;
error_log $run/origin/error.log warn;
events { worker_connections 8192; }
http {
    access_log off;
    default_type text/plain;
    keepalive_requests 1000000;
    client_body_temp_path $run/origin/tmp; proxy_temp_path $run/origin/tmp; fastcgi_temp_path $run/origin/tmp;
    uwsgi_temp_path $run/origin/tmp; scgi_temp_path $run/origin/tmp;
    server { listen 127.0.0.1:$origin_port backlog=4096; root $run/www; }
}
EOF
nginx -p "$run/origin" -c "$run/origin/nginx.conf" -g 'daemon off;' >"$run/origin/stdout.log" 2>&1 &
pids+=($!)

start_dfproxy() {
    cat >"$run/dfproxy/config.json" <<EOF
{
  "apiVersion": "dfproxy.dev/v1", "kind": "Config",
  "admin": {"address": "127.0.0.1", "port": 0},
  "dns": {"servers": ["$dns_ip"]},
  "proxy": {"workers": 1},
  "logging": {"accessLog": {"enabled": true, "path": "$run/dfproxy/access.log", "maxFiles": 1}},
  "resources": [
    {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
     "metadata": {"name": "agentgateway-proxy", "namespace": "agentgateway-system"},
     "spec": {"gatewayClassName": "agentgateway",
              "listeners": [{"name": "http", "protocol": "HTTP", "port": ${port[dfproxy]}}]}},
    {"apiVersion": "agentgateway.dev/v1alpha1", "kind": "AgentgatewayBackend",
     "metadata": {"name": "dfp-backend", "namespace": "httpbin"}, "spec": {"dynamicForwardProxy": {}}},
    {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
     "metadata": {"name": "dfp-httproute", "namespace": "httpbin"},
     "spec": {"parentRefs": [{"name": "agentgateway-proxy", "namespace": "agentgateway-system"}],
              "rules": [{"backendRefs": [{"group": "agentgateway.dev", "kind": "AgentgatewayBackend",
                                          "name": "dfp-backend"}]}]}}
  ]
}
EOF
    local wrap=()
    case $instrument in
        callgrind) wrap=(valgrind --tool=callgrind --collect-atstart=no
                         "--toggle-collect=QEventDispatcherUNIX::processEvents*"
                         "--toggle-collect=dfproxy::telemetry::AccessLogger::processPending*"
                         "--callgrind-out-file=$run/dfproxy/callgrind.$1") ;;
        massif) wrap=(valgrind --tool=massif --massif-out-file="$run/dfproxy/massif.$1") ;;
    esac
    HOME="$run/dfproxy" "${wrap[@]}" "$dfproxy" --config "$run/dfproxy/config.json" --no-watch-config \
        >"$run/dfproxy/stdout.log" 2>&1 &
    echo $!
}

# HAProxy: h2c on the bind line, the :authority resolved per request (do-resolve), HTTP/1.1 to the origin.
start_haproxy() {
    cat >"$run/haproxy/haproxy.cfg" <<EOF
global
    nbthread 1
    maxconn 8000
defaults
    mode http
    timeout connect 5s
    timeout client 60s
    timeout server 60s
    http-reuse safe
resolvers benchdns
    nameserver dns1 $dns_ip:53
    hold valid 30s
frontend h2c
    bind 127.0.0.1:${port[haproxy]} proto h2
    http-request do-resolve(txn.dstip,benchdns,ipv4) hdr(host),host_only,lower
    http-request return status 502 unless { var(txn.dstip) -m found }
    default_backend dynamic
backend dynamic
    http-request set-dst var(txn.dstip)
    http-request set-var(txn.dstport) hdr(host),port_only
    http-request set-dst-port var(txn.dstport)
    server dyn 0.0.0.0:0
EOF
    haproxy -db -f "$run/haproxy/haproxy.cfg" >"$run/haproxy/stdout.log" 2>&1 &
    echo $!
}

# nginx: "listen ... http2" without TLS is h2c by prior knowledge; a resolver and proxy_pass with the Host (the
# :authority). nginx 1.22 keeps no upstream pool for variable proxy_pass: a new origin connection per request.
start_nginx() {
    cat >"$run/nginx/nginx.conf" <<EOF
worker_processes 1;
pid $run/nginx/nginx.pid;
error_log $run/nginx/error.log warn;
events { worker_connections 8192; }
http {
    access_log off;
    resolver $dns_ip:53 valid=30s;
    proxy_http_version 1.1;
    proxy_set_header Host \$http_host;
    proxy_set_header Connection "";
    proxy_max_temp_file_size 0;
    client_body_temp_path $run/nginx/tmp; proxy_temp_path $run/nginx/tmp; fastcgi_temp_path $run/nginx/tmp;
    uwsgi_temp_path $run/nginx/tmp; scgi_temp_path $run/nginx/tmp;
    http2_max_concurrent_streams 128;
    keepalive_requests 1000000;   # else GOAWAY after 1000 streams per connection (and h2load does not reconnect)
    server {
        listen 127.0.0.1:${port[nginx]} http2 backlog=4096;
        location / { proxy_pass http://\$http_host\$request_uri; }
    }
}
EOF
    nginx -p "$run/nginx" -c "$run/nginx/nginx.conf" -g 'daemon off;' >"$run/nginx/stdout.log" 2>&1 &
    echo $!
}

# User and system CPU time of a process and its children (nginx's workers), in clock ticks: far less moved by other
# work on the machine than requests/s.
cpu_ticks() {
    local total=0 p
    for p in $1 $(pgrep -P "$1" || true); do
        total=$((total + $(awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$p/stat" 2>/dev/null || echo 0)))
    done
    echo "$total"
}

# Peak RSS (VmHWM) of a process and its children (nginx's workers), in MiB.
peak_rss() {
    local total=0 p
    for p in $1 $(pgrep -P "$1" || true); do
        total=$((total + $(awk '/^VmHWM/ {print $2}' "/proc/$p/status" 2>/dev/null || echo 0)))
    done
    echo $((total / 1024))
}

wait_port $origin_port
authority="svc1.bench.test:$origin_port"

if [ -n "${IDLE:-}" ]; then
    # Memory per idle HTTP/2 connection: dfproxy's anonymous RSS before and while $IDLE connections that each
    # fetched one 64 KiB response stay open.
    pid=$(start_dfproxy idle)
    pids+=("$pid")
    wait_port "${port[dfproxy]}"
    h2load -n 200 -c 10 -m 10 -H ":authority: $authority" "http://127.0.0.1:${port[dfproxy]}/64k" >/dev/null
    sleep 1
    before=$(awk '/^RssAnon/ {print $2}' "/proc/$pid/status")
    python3 "$here/h2idle.py" "${port[dfproxy]}" "$IDLE" /64k "$authority" 6 &
    client=$!
    sleep 5
    during=$(awk '/^RssAnon/ {print $2}' "/proc/$pid/status")
    wait "$client"
    echo "idle connections=$IDLE RssAnon before=${before} KiB with them=${during} KiB per_connection=$(((during - before) / IDLE)) KiB"
    exit 0
fi

if [ -n "$instrument" ]; then
    for path in small 64k; do
        n=$([ $path = small ] && echo "$requests" || echo $((requests / 5)))
        pid=$(start_dfproxy "$path")
        pids+=("$pid")
        wait_port "${port[dfproxy]}"
        out=$(h2load -n "$n" -c 10 -m 10 -H ":authority: $authority" "http://127.0.0.1:${port[dfproxy]}/$path")
        ok=$(sed -n 's/^requests: .* \([0-9]*\) succeeded.*/\1/p' <<<"$out")
        rss=$(awk '/^VmHWM/ {print int($2 / 1024)}' "/proc/$pid/status")
        kill "$pid" 2>/dev/null || true
        while kill -0 "$pid" 2>/dev/null; do sleep 0.2; done # valgrind writes its file as dfproxy exits
        [ "${ok:-0}" -gt 0 ] || { echo "/$path: no request succeeded" >&2; echo "$out" >&2; exit 1; }
        file=$run/dfproxy/$instrument.$path
        if [ "$instrument" = callgrind ]; then
            ir=$(awk '/^(summary|totals):/ { print $2; exit }' "$file")
            echo "/$path: requests=$ok instructions=$ir per_request=$((ir / ok)) profile=$file"
        else
            # The largest heap while serving: after start-up's own peak (reading /etc/hosts asks for a 32 MiB
            # buffer it never touches) once the heap fell back below a quarter of it.
            peak=$(awk -F= '/^mem_heap_B=/ { h = $2 } /^mem_heap_extra_B=/ { n++; v[n] = h + $2 }
                            END { p = 1; for (i = 1; i <= n; i++) if (v[i] > v[p]) p = i
                                  q = 0; for (i = p + 1; i <= n; i++) if (v[i] < v[p] / 4) { q = i; break }
                                  m = v[p]; if (q) { m = 0; for (i = q; i <= n; i++) if (v[i] > m) m = v[i] }
                                  printf "%.1f", m / 1048576 }' "$file")
            echo "/$path: requests=$ok serving_peak_heap_MiB=$peak rss_MiB(under valgrind)=$rss profile=$file"
        fi
    done
    exit 0
fi
results="$run/results.md"
{
    echo "| proxy | response | requests/s (median of $repeat) | min–max | failed | CPU us/req | peak RSS MiB |"
    echo "|---|---|---|---|---|---|---|"
} >"$results"
for peer in $peers; do
    pid=$("start_$peer")
    pids+=("$pid")
    wait_port "${port[$peer]}"
    h2load -n 200 -c 10 -m 10 -H ":authority: $authority" "http://127.0.0.1:${port[$peer]}/small" >/dev/null # warm-up
    for path in small 64k; do
        rates=()
        failed=0
        served=0
        ticks=$(cpu_ticks "$pid")
        for _ in $(seq "$repeat"); do
            out=$(h2load -D "$duration" -c 10 -m 10 -H ":authority: $authority" "http://127.0.0.1:${port[$peer]}/$path")
            ok=$(sed -n 's/^requests: .* \([0-9]*\) succeeded.*/\1/p' <<<"$out")
            served=$((served + ${ok:-0}))
            failed=$((failed + $(sed -n 's/^requests: .* \([0-9]*\) failed, \([0-9]*\) errored.*/\1 + \2/p' <<<"$out")))
            rate=$(sed -n 's/^finished in .*, \([0-9.]*\) req\/s.*/\1/p' <<<"$out")
            [ "${ok:-0}" -gt 0 ] || { echo "$peer /$path: no request succeeded" >&2; echo "$out" >&2; exit 1; }
            rates+=("${rate%.*}")
        done
        mapfile -t sorted < <(printf '%s\n' "${rates[@]}" | sort -n)
        median=${sorted[$(((${#sorted[@]} - 1) / 2))]}
        size=$([ $path = small ] && echo '100 B' || echo '64 KiB')
        cpu=$((($(cpu_ticks "$pid") - ticks) * 1000000 / $(getconf CLK_TCK) / served))
        echo "| $peer | $size | $median | ${sorted[0]}–${sorted[-1]} | $failed | $cpu | $(peak_rss "$pid") |" |
            tee -a "$results"
    done
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
done
echo
cat "$results"
