#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# HTTPS through the proxy, against peers, on loopback (docs/benchmarks.md, scenarios D and E):
#   Dsetup  : tunnel setup rate: new CONNECT + full TLS handshake + one GET /small per tunnel (bench/connectload)
#   Dtunnel : 64 KiB responses in long-lived CONNECT tunnels, GET /64k in a loop on each (bench/connectload)
#   Esmall  : TLS origination: plain-HTTP GET /small to the proxy, which opens (and pools) TLS to the origin (wrk)
#   E64k    : the same with GET /64k
# Peers: D against Squid (forward proxy, CONNECT) and HAProxy (whose 2.6 forwards a CONNECT request to the server
# instead of answering it, so its rows show "no-connect" unless that changes); E against HAProxy with
# "server ... ssl verify required ca-file ca.pem sni" (do-resolve + set-dst, like run-peers.sh). "direct" rows
# go straight to the origin. Every measured run gets a fresh proxy process; medians over ROUNDS.
#
#   sudo bench/tls.sh                                   # everything, 3 rounds, c=10 and c=100, 5 s per run
#   sudo SCENARIOS=Dsetup CONNS=10 ROUNDS=1 DURATION=2 bench/tls.sh          # one cell, smoke run
#   sudo WORKERS=2 bench/tls.sh                         # two dfproxy workers against HAProxy nbthread 2
#   sudo INSTRUMENT=callgrind SCENARIOS=Esmall CONNS=10 ROUNDS=1 bench/tls.sh # dfproxy's instructions per request
#   sudo INSTRUMENT=strace SCENARIOS=Dsetup CONNS=10 ROUNDS=1 PEERS=none bench/tls.sh # its system calls per request
#
# Needs root (dnsmasq on 127.0.0.55:53) and: wrk nginx haproxy squid dnsmasq curl openssl python3 g++ libssl-dev
# (valgrind for INSTRUMENT=callgrind, strace for INSTRUMENT=strace: strace -c -f on dfproxy during the measured
# run, which slows it down, so its requests/s and CPU columns do not count then). Environment: DFPROXY (binary;
# default build/release/service/dfproxy), SCENARIOS, PEERS (default "squid haproxy"), CONNS (default "10 100"),
# ROUNDS (3), DURATION (5), WORKERS (1: dfproxy proxy.workers and HAProxy nbthread; Squid runs one process), MODES
# (E's request forms, default "host absolute"), OUT_DIR (default: a new /tmp/dfproxy-tls.XXXXXX, kept, with the
# raw output and results.tsv).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
bin=${DFPROXY:-$root/build/release/service/dfproxy}
lua=${BENCH_LUA:-$root/../shared/bench/lua/bench.lua}
[ -f "$lua" ] || [ -n "${BENCH_LUA:-}" ] || lua=$root/../../shared/bench/lua/bench.lua
scenarios=${SCENARIOS:-Dsetup Dtunnel Esmall E64k}
peers=${PEERS:-squid haproxy}
[ "$peers" = none ] && peers=""
conns_list=${CONNS:-10 100}
rounds=${ROUNDS:-3}
duration=${DURATION:-5}
workers=${WORKERS:-1}
modes=${MODES:-host absolute}
instrument=${INSTRUMENT:-}
for tool in wrk nginx haproxy squid dnsmasq curl openssl python3; do
    command -v "$tool" >/dev/null || { echo "tls.sh: $tool is not installed" >&2; exit 2; }
done
case $instrument in callgrind) tracer_tool=valgrind ;; strace) tracer_tool=strace ;; *) tracer_tool="" ;; esac
[ -z "$tracer_tool" ] || command -v "$tracer_tool" >/dev/null \
    || { echo "tls.sh: $tracer_tool is not installed" >&2; exit 2; }
[ -x "$bin" ] || { echo "tls.sh: no dfproxy at $bin (cmake --build --preset release --target dfproxy)" >&2; exit 2; }
[ -f "$lua" ] || { echo "tls.sh: no wrk script at $lua (set BENCH_LUA)" >&2; exit 2; }

dir=${OUT_DIR:-$(mktemp -d /tmp/dfproxy-tls.XXXXXX)}
mkdir -p "$dir/raw"
connectload=$("$here/connectload/build.sh" "$dir/connectload")
dns_ip=127.0.0.55
origin_port=18443
target=svc1.bench.test:$origin_port
declare -A port=([dfproxy]=18485 [haproxy]=18484 [squid]=18482)
pids=()
proxy_pid=""
cleanup() {
    [ -z "$proxy_pid" ] || kill "$proxy_pid" 2>/dev/null || true
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap cleanup EXIT

# A test CA and a certificate for *.bench.test, made fresh for this run.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=dfproxy bench CA" \
    -keyout "$dir/ca-key.pem" -out "$dir/ca.pem" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=svc1.bench.test" \
    -keyout "$dir/origin-key.pem" -out "$dir/origin.csr" 2>/dev/null
printf 'subjectAltName=DNS:*.bench.test\nextendedKeyUsage=serverAuth\n' > "$dir/origin.ext"
openssl x509 -req -in "$dir/origin.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca-key.pem" -CAcreateserial -days 2 \
    -extfile "$dir/origin.ext" -out "$dir/origin.pem" 2>/dev/null

dnsmasq --keep-in-foreground --port=53 --listen-address=$dns_ip --bind-interfaces --no-resolv --no-hosts \
    --address=/bench.test/127.0.0.1 --local-ttl=30 --cache-size=10000 --pid-file="$dir/dnsmasq.pid" \
    2>"$dir/dnsmasq.log" &
pids+=($!)
sleep 0.5
kill -0 "${pids[0]}" 2>/dev/null || { echo "tls.sh: dnsmasq did not start: $(cat "$dir/dnsmasq.log")" >&2; exit 1; }
head -c 100 /dev/zero | tr '\0' x > "$dir/small"
head -c 65536 /dev/zero | tr '\0' x > "$dir/64k"
cat > "$dir/nginx.conf" <<NGINX
worker_processes 1; daemon off; pid $dir/nginx.pid; error_log $dir/nginx-error.log;
events { worker_connections 8192; }
http { access_log off; keepalive_requests 1000000; keepalive_timeout 120s;
  ssl_session_cache shared:SSL:10m; ssl_session_tickets on; ssl_protocols TLSv1.2 TLSv1.3;
  server { listen 127.0.0.1:$origin_port ssl backlog=4096;
           ssl_certificate $dir/origin.pem; ssl_certificate_key $dir/origin-key.pem;
           location = /small { alias $dir/small; default_type text/plain; }
           location = /64k { alias $dir/64k; default_type text/plain; } } }
NGINX
nginx -c "$dir/nginx.conf" &
pids+=($!)

dfproxy_config() { # $1: "" (CONNECT: a plain dynamic-forward-proxy backend) or tls (TLS to the origin)
    local tls_field=""
    [ "$1" = tls ] && tls_field=", \"tls\": {\"caFile\": \"$dir/ca.pem\"}"
    cat > "$dir/dfproxy-$1.json" <<JSON
{"apiVersion": "dfproxy.dev/v1", "kind": "Config", "admin": {"address": "127.0.0.1", "port": 0},
 "dns": {"servers": ["$dns_ip"]}, "proxy": {"workers": $workers},
 "logging": {"accessLog": {"enabled": true, "path": "$dir/access-$1.log", "maxFiles": 1}},
 "resources": [
  {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway", "metadata": {"name": "gw", "namespace": "bench"},
   "spec": {"gatewayClassName": "dfproxy", "listeners": [{"name": "http", "protocol": "HTTP", "port": ${port[dfproxy]},
                                                        "allowedConnectPorts": [$origin_port]}]}},
  {"apiVersion": "agentgateway.dev/v1alpha1", "kind": "AgentgatewayBackend",
   "metadata": {"name": "dfp", "namespace": "bench"}, "spec": {"dynamicForwardProxy": {}$tls_field}},
  {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute", "metadata": {"name": "all", "namespace": "bench"},
   "spec": {"parentRefs": [{"name": "gw", "namespace": "bench"}],
            "rules": [{"backendRefs": [{"group": "agentgateway.dev", "kind": "AgentgatewayBackend", "name": "dfp"}]}]}}]}
JSON
}
dfproxy_config ""
dfproxy_config tls

haproxy_config() { # $1: "" (plain server line, tried with CONNECT) or tls
    local server="server dyn 0.0.0.0:0"
    [ "$1" = tls ] && server="$server ssl verify required ca-file $dir/ca.pem sni req.hdr(host),host_only"
    cat > "$dir/haproxy-$1.cfg" <<HAPROXY
global
    nbthread $workers
    maxconn 8000
defaults
    mode http
    timeout connect 5s
    timeout client 60s
    timeout server 60s
    timeout http-request 10s
    timeout http-keep-alive 60s
    timeout tunnel 120s
    http-reuse safe
resolvers benchdns
    nameserver dns1 $dns_ip:53
    accepted_payload_size 8192
    hold valid 30s
frontend dfp
    bind 127.0.0.1:${port[haproxy]}
    http-request do-resolve(txn.dstip,benchdns,ipv4) hdr(host),host_only,lower
    http-request return status 502 content-type text/plain string "dns resolution failed" unless { var(txn.dstip) -m found }
    default_backend dynamic
backend dynamic
    http-request set-dst var(txn.dstip)
    http-request set-var(txn.dstport) hdr(host),port_only
    http-request set-var(txn.dstport) int(80) unless { var(txn.dstport) -m int gt 0 }
    http-request set-dst-port var(txn.dstport)
    $server
HAPROXY
    haproxy -c -q -f "$dir/haproxy-$1.cfg"
}
haproxy_config ""
haproxy_config tls

mkdir -p "$dir/squid"
cat > "$dir/squid/squid.conf" <<SQUID
http_port 127.0.0.1:${port[squid]}
workers 1
pid_filename $dir/squid/squid.pid
cache_log $dir/squid/cache.log
access_log none
cache_effective_user proxy
max_filedescriptors 16384
shutdown_lifetime 1 seconds
pinger_enable off
cache deny all
cache_mem 0 MB
dns_nameservers $dns_ip
hosts_file none
http_access allow localhost
http_access deny all
SQUID
chown -R proxy:proxy "$dir/squid" 2>/dev/null || chmod 777 "$dir/squid"

# Starts proxy $1 in configuration $2 ("" or tls) and sets proxy_pid; fails when its port does not answer.
start_proxy() {
    local name=$1 variant=$2 wrap=()
    case $name in
        dfproxy)
            if [ "$instrument" = callgrind ]; then
                wrap=(valgrind --tool=callgrind --collect-atstart=no
                      "--toggle-collect=QEventDispatcherUNIX::processEvents*"
                      "--toggle-collect=dfproxy::telemetry::AccessLogger::processPending*"
                      "--toggle-collect=dfproxy::proxy::ClientApplications::runJob*"
                      "--callgrind-out-file=$dir/callgrind.$round-$cell-$mode-$conns")
            fi
            HOME="$dir" "${wrap[@]}" "$bin" --config "$dir/dfproxy-$variant.json" --no-watch-config \
                > "$dir/dfproxy.log" 2>&1 & ;;
        haproxy) haproxy -db -f "$dir/haproxy-$variant.cfg" > "$dir/haproxy.log" 2>&1 & ;;
        squid) squid -N -f "$dir/squid/squid.conf" > "$dir/squid/stdout.log" 2>&1 & ;;
    esac
    proxy_pid=$!
    for _ in $(seq 200); do
        curl -s -o /dev/null "http://127.0.0.1:${port[$name]}/" && return 0
        kill -0 "$proxy_pid" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}
stop_proxy() {
    kill "$proxy_pid" 2>/dev/null || true
    wait "$proxy_pid" 2>/dev/null || true
    proxy_pid=""
}
cpu_ticks() { # utime + stime of process $1 and its threads, in clock ticks
    awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$1/stat" 2>/dev/null || echo 0
}

# One measured run: prints "rps p50_ms p99_ms errors" (or a reason) for proxy $1 (direct = no proxy).
measure() {
    local name=$1 raw=$2 kind path
    case $cell in Dsetup) kind=setup path=/small ;; Dtunnel) kind=tunnel path=/64k ;;
                  Esmall) kind=wrk path=/small ;; E64k) kind=wrk path=/64k ;; esac
    if [ "$kind" != wrk ]; then
        local via=(--proxy "127.0.0.1:${port[$name]:-0}")
        [ "$name" = direct ] && via=(--connect-to 127.0.0.1)
        "$connectload" "${via[@]}" --target "$target" --ca "$dir/ca.pem" --mode "$kind" --path "$path" \
            -c "$conns" -d "$duration" > "$raw" 2>&1 || true
        python3 - "$raw" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
m = re.search(r"rps=(\S+) p50_ms=(\S+) p99_ms=(\S+)", text)
e = re.search(r"errors=(\d+)", text)
print(f"{m.group(1)} {m.group(2)} {m.group(3)} {e.group(1)}" if m and float(m.group(1)) > 0 else "failed - - -")
PY
    else
        local url="http://127.0.0.1:${port[$name]:-0}" lmode=$mode
        [ "$name" = direct ] && url="https://127.0.0.1:$origin_port" lmode=host
        BENCH_MODE=$lmode BENCH_PATH=$path BENCH_HOSTS=1 BENCH_DOMAIN=bench.test BENCH_ORIGIN_PORT=$origin_port \
            timeout $((duration + 30)) wrk -t2 -c"$conns" -d"${duration}s" --latency -s "$lua" "$url" > "$raw" 2>&1 \
            || true
        python3 - "$raw" "$duration" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
m = re.search(r"BENCH_RESULT requests=(\d+) duration_us=(\d+).* err_status=(\d+).*p50_us=(\d+) p90_us=\d+ p99_us=(\d+)",
              text)
if not m:
    print("failed - - -")
else:
    req, us, status, p50, p99 = map(int, m.groups())
    errs = sum(int(x) for x in re.findall(r"err_(?:connect|read|write|timeout)=(\d+)", text)) + status
    ok = req and status < req
    print(f"{req / (us / 1e6):.1f} {p50 / 1000:.3f} {p99 / 1000:.3f} {errs}" if ok else "failed - - -")
PY
    fi
}

# Which proxies take part in a cell, and in which configuration.
cell_proxies() {
    case $1 in
        D*) echo direct dfproxy; for p in $peers; do echo "$p"; done ;;
        E*) echo direct dfproxy; [[ " $peers " != *" haproxy "* ]] || echo haproxy ;;
    esac
}
preflight() { # proxy name, variant: is the cell's request answered with 200 at all?
    case $cell in
        D*) curl -sf -o /dev/null --max-time 10 --cacert "$dir/ca.pem" -x "http://127.0.0.1:${port[$1]}" \
                "https://$target/small" ;;
        E*) curl -sf -o /dev/null --max-time 10 -H "Host: $target" "http://127.0.0.1:${port[$1]}/small" ;;
    esac
}

tsv=$dir/results.tsv
printf 'round\tcell\tmode\tconns\tproxy\trps\tp50_ms\tp99_ms\terrors\tcpu_us_per_req\n' > "$tsv"
echo "tls.sh: $(date -u '+%F %T') UTC, load: $(uptime | sed 's/.*load average/load average/'), workers=$workers," \
     "output in $dir" >&2
for round in $(seq "$rounds"); do
    for cell in $scenarios; do
        cell_modes=$modes
        [[ $cell == D* ]] && cell_modes=connect
        variant=""
        [[ $cell == E* ]] && variant=tls
        for mode in $cell_modes; do
            for conns in $conns_list; do
                for name in $(cell_proxies "$cell"); do
                    result="" cpu="-"
                    if [ "$name" != direct ]; then
                        if ! start_proxy "$name" "$variant"; then
                            result="start-failed - - -"
                        elif ! preflight "$name"; then
                            result="no-connect - - -"
                            [[ $cell == E* ]] && result="preflight-failed - - -"
                        fi
                    fi
                    if [ -z "$result" ]; then
                        before=$( [ -n "$proxy_pid" ] && cpu_ticks "$proxy_pid" || echo 0)
                        tracer=""
                        if [ "$instrument" = strace ] && [ "$name" = dfproxy ]; then
                            strace -c -f -q -o "$dir/strace.$round-$cell-$mode-$conns" -p "$proxy_pid" &
                            tracer=$!
                            sleep 1 # attached to every thread before the load starts
                        fi
                        result=$(measure "$name" "$dir/raw/$round-$cell-$mode-$conns-$name.txt")
                        if [ -n "$tracer" ]; then kill -INT "$tracer"; wait "$tracer" || true; fi
                        if [ -n "$proxy_pid" ]; then
                            after=$(cpu_ticks "$proxy_pid")
                            read -r rps _ <<<"$result"
                            cpu=$(python3 -c "import os,sys; t=($after-$before)/os.sysconf('SC_CLK_TCK'); \
r=float('$rps') if '$rps' not in ('failed',) else 0; print(f'{1e6*t/(r*$duration):.0f}' if r else '-')")
                        fi
                    fi
                    [ -z "$proxy_pid" ] || stop_proxy
                    read -r rps p50 p99 errs <<<"$result"
                    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$cell" "$mode" "$conns" "$name" \
                        "$rps" "$p50" "$p99" "$errs" "$cpu" | tee -a "$tsv" >&2
                done
            done
        done
    done
done
echo "tls.sh: finished $(date -u '+%F %T') UTC, load: $(uptime | sed 's/.*load average/load average/')" >&2

# Medians over the rounds, and dfproxy / peer.
python3 - "$tsv" <<'PY'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
cells = {}
for r in rows:
    cells.setdefault((r["cell"], r["mode"], r["conns"]), {}).setdefault(r["proxy"], []).append(r)
def num(x):
    try: return float(x)
    except ValueError: return None
print("| cell | mode | c | proxy | rps (median, min-max, n) | p50 ms | p99 ms | errors | CPU us/req | dfproxy / this |")
print("|---|---|--:|---|--:|--:|--:|--:|--:|--:|")
for (cell, mode, conns), by_proxy in cells.items():
    medians = {}
    for proxy, runs in by_proxy.items():
        good = [r for r in runs if num(r["rps"]) is not None]
        if good:
            good.sort(key=lambda r: num(r["rps"]))
            medians[proxy] = good[len(good) // 2]
    for proxy, runs in by_proxy.items():
        m = medians.get(proxy)
        if not m:
            print(f"| {cell} | {mode} | {conns} | {proxy} | {runs[0]['rps']} | - | - | - | - | - |")
            continue
        rpss = [num(r["rps"]) for r in runs if num(r["rps"]) is not None]
        ratio = "-"
        if proxy not in ("dfproxy",) and "dfproxy" in medians:
            ratio = f"{num(medians['dfproxy']['rps']) / num(m['rps']):.2f}"
        print(f"| {cell} | {mode} | {conns} | {proxy} | {num(m['rps']):.0f} ({min(rpss):.0f}-{max(rpss):.0f}, "
              f"n={len(rpss)}) | {m['p50_ms']} | {m['p99_ms']} | {m['errors']} | {m['cpu_us_per_req']} | {ratio} |")
PY
if [ "$instrument" = strace ]; then
    # System calls per request: strace's counts over the run's requests (rps x duration), the busiest first.
    for f in "$dir"/strace.*; do
        [ -f "$f" ] || continue
        key=${f##*/strace.}
        python3 - "$f" "$tsv" "$key" "$duration" <<'PY'
import csv, sys
path, tsv, key, duration = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
rows = [r for r in csv.DictReader(open(tsv), delimiter="\t")
        if r["proxy"] == "dfproxy" and "-".join((r["round"], r["cell"], r["mode"], r["conns"])) == key]
try:
    requests = float(rows[0]["rps"]) * duration
except (IndexError, ValueError):
    sys.exit(0)
calls = {}
for line in open(path):
    f = line.split()
    # "% time  seconds  usecs/call  calls  [errors]  syscall"
    if len(f) >= 5 and f[0][0].isdigit() and not f[-1].startswith("-"):
        calls[f[-1]] = int(f[3])
total = calls.pop("total", sum(calls.values()))
top = ", ".join(f"{name} {n / requests:.1f}" for name, n in sorted(calls.items(), key=lambda x: -x[1])[:12])
print(f"dfproxy {key}: syscalls={total} requests={requests:.0f} per_request={total / requests:.1f} ({top}) "
      f"trace={path}")
PY
    done
fi
if [ "$instrument" = callgrind ]; then
    # The run's requests are rps x duration (connectload and wrk both count completed responses only).
    for f in "$dir"/callgrind.*; do
        [ -f "$f" ] || continue
        key=${f##*/callgrind.}
        ir=$(awk '/^(summary|totals):/ { print $2; exit }' "$f")
        awk -F'\t' -v key="$key" -v ir="$ir" -v d="$duration" -v f="$f" \
            '$5 == "dfproxy" && $1 "-" $2 "-" $3 "-" $4 == key && $6 + 0 > 0 {
                 printf "dfproxy %s: instructions=%d requests=%d per_request=%d profile=%s\n", key, ir, $6 * d,
                        ir / ($6 * d), f }' "$tsv"
    done
fi
