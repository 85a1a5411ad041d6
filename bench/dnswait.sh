#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# How long requests for names dfproxy has never resolved wait for DNS, per resolver (docs/dns.md, "Resolvers"):
# for each round and each resolver, a fresh dfproxy takes wrk's rotation over 1,000 new names (bench/names.lua,
# each wrk thread its own slice; NAMES sets how many) and the script prints wrk's requests/s and p99 with the DNS
# waits of that run, from dfproxy_dns_wait_duration_seconds (its count, mean and buckets up to 2.5 ms).
#
#   sudo bench/dnswait.sh                       # 3 rounds, "udp qdnslookup", c=10, 5 s
#   sudo ROUNDS=5 CONNS=100 bench/dnswait.sh
#   sudo NAMES=300000 DURATION=3 RESOLVERS=udp bench/dnswait.sh   # every request a name never seen before
#
# Each round also runs HAProxy 2.6 (PEERS=haproxy, the default; PEERS=none leaves it out) as a dynamic forward proxy
# over the same names: do-resolve + set-dst like run-peers.sh, nbthread = WORKERS. The last lines are the medians
# over the rounds and dfproxy / HAProxy for each resolver.
#
# Needs root (dnsmasq on 127.0.0.54:53) and: wrk nginx dnsmasq curl python3. Environment: DFPROXY (binary; default
# build/release/service/dfproxy), RESOLVERS, ROUNDS, CONNS, DURATION, WORKERS (dfproxy worker threads, default 1),
# NAMES (names wrk rotates over, default 1000; dns.maxHosts is raised to fit them), PEERS.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
bin=${DFPROXY:-$root/build/release/service/dfproxy}
lua=${BENCH_LUA:-$here/names.lua} # each wrk thread walks its own slice of the names
resolvers=${RESOLVERS:-udp qdnslookup}
rounds=${ROUNDS:-3}
conns=${CONNS:-10}
duration=${DURATION:-5}
workers=${WORKERS:-1}
names=${NAMES:-1000}
peers=${PEERS:-haproxy}
[ "$peers" = none ] && peers=""
max_hosts=$((names > 1000 ? names + 24 : 1024))
tools="wrk nginx dnsmasq curl python3"
[ -z "$peers" ] || tools="$tools $peers"
for tool in $tools; do
    command -v "$tool" >/dev/null || { echo "dnswait.sh: $tool is not installed" >&2; exit 2; }
done
[ -x "$bin" ] || { echo "dnswait.sh: no dfproxy at $bin (cmake --build --preset release --target dfproxy)" >&2; exit 2; }
[ -f "$lua" ] || { echo "dnswait.sh: no wrk script at $lua (set BENCH_LUA)" >&2; exit 2; }

dir=$(mktemp -d /tmp/dfproxy-dnswait.XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$dir"
}
trap cleanup EXIT

dnsmasq --keep-in-foreground --port=53 --listen-address=127.0.0.54 --bind-interfaces --no-resolv --no-hosts \
    --address=/bench.test/127.0.0.1 --local-ttl=30 --cache-size=10000 --pid-file="$dir/dnsmasq.pid" &
pids+=($!)
small=$(head -c 100 /dev/zero | tr '\0' x)
cat > "$dir/nginx.conf" <<NGINX
worker_processes 1; daemon off; pid $dir/nginx.pid; error_log $dir/nginx-error.log;
events { worker_connections 4096; }
http { access_log off;
  server { listen 127.0.0.1:18280 backlog=4096; keepalive_requests 1000000; location /small { return 200 "$small"; } } }
NGINX
nginx -c "$dir/nginx.conf" &
pids+=($!)
sleep 0.5

cat > "$dir/haproxy.cfg" <<HAPROXY
global
    nbthread $workers
    maxconn 8000
defaults
    mode http
    timeout connect 5s
    timeout client 60s
    timeout server 60s
    timeout http-keep-alive 60s
    http-reuse safe
resolvers benchdns
    nameserver dns1 127.0.0.54:53
    accepted_payload_size 8192
    hold valid 30s
frontend dfp
    bind 127.0.0.1:18284
    http-request do-resolve(txn.dstip,benchdns,ipv4) hdr(host),host_only,lower
    http-request return status 502 content-type text/plain string "dns resolution failed" unless { var(txn.dstip) -m found }
    default_backend dynamic
backend dynamic
    http-request set-dst var(txn.dstip)
    http-request set-var(txn.dstport) hdr(host),port_only
    http-request set-var(txn.dstport) int(80) unless { var(txn.dstport) -m int gt 0 }
    http-request set-dst-port var(txn.dstport)
    server dyn 0.0.0.0:0
HAPROXY

# wrk against a proxy on port $1; prints wrk's output
load() {
    BENCH_MODE=host BENCH_PATH=/small BENCH_HOSTS=$names BENCH_DOMAIN=bench.test BENCH_ORIGIN_PORT=18280 \
        BENCH_THREADS=2 wrk -t2 -c"$conns" -d"${duration}s" --latency -s "$lua" "http://127.0.0.1:$1" 2>&1
}
summary=$dir/summary.tsv
: > "$summary"
for round in $(seq "$rounds"); do
    for peer in $peers; do
        haproxy -db -f "$dir/haproxy.cfg" > "$dir/haproxy.log" 2>&1 &
        pid=$!
        for _ in $(seq 100); do curl -s -o /dev/null http://127.0.0.1:18284/ && break; sleep 0.1; done
        out=$(load 18284)
        kill "$pid"
        wait "$pid" 2>/dev/null || true
        WRK="$out" python3 - "$round" "$peer" "$summary" <<'PY'
import os, re, sys
wrk = os.environ["WRK"]
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", wrk).group(1))
p99 = re.search(r"^\s+99%\s+(\S+)", wrk, re.M).group(1)
bad = re.search(r"Non-2xx or 3xx responses: (\d+)", wrk)
print(f"round {sys.argv[1]} {sys.argv[2]:>10}: {rps:8.0f} req/s  p99 {p99:>7}  non-2xx {bad.group(1) if bad else 0}")
open(sys.argv[3], "a").write(f"{sys.argv[2]}\t{rps}\t{p99}\n")
PY
    done
    for resolver in $resolvers; do
        cat > "$dir/config.json" <<JSON
{"apiVersion": "dfproxy.dev/v1", "kind": "Config", "admin": {"address": "127.0.0.1", "port": 15999},
 "dns": {"servers": ["127.0.0.54"], "resolver": "$resolver", "maxHosts": $max_hosts}, "proxy": {"workers": $workers},
 "logging": {"accessLog": {"enabled": true, "path": "$dir/access.log", "maxFiles": 1}},
 "resources": [
  {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway", "metadata": {"name": "gw", "namespace": "bench"},
   "spec": {"gatewayClassName": "dfproxy", "listeners": [{"name": "http", "protocol": "HTTP", "port": 18285}]}},
  {"apiVersion": "agentgateway.dev/v1alpha1", "kind": "AgentgatewayBackend",
   "metadata": {"name": "dfp", "namespace": "bench"}, "spec": {"dynamicForwardProxy": {}}},
  {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute", "metadata": {"name": "all", "namespace": "bench"},
   "spec": {"parentRefs": [{"name": "gw", "namespace": "bench"}],
            "rules": [{"backendRefs": [{"group": "agentgateway.dev", "kind": "AgentgatewayBackend", "name": "dfp"}]}]}}]}
JSON
        HOME="$dir" "$bin" --config "$dir/config.json" --no-watch-config > "$dir/dfproxy.log" 2>&1 &
        pid=$!
        for _ in $(seq 100); do curl -s -o /dev/null http://127.0.0.1:18285/ && break; sleep 0.1; done
        out=$(load 18285)
        metrics=$(curl -s -H "Authorization: Bearer $(cat "$dir/admin-token")" http://127.0.0.1:15999/metrics)
        kill "$pid"
        wait "$pid" 2>/dev/null || true
        WRK="$out" METRICS="$metrics" python3 - "$round" "$resolver" "$summary" <<'PY'
import os, re, sys
wrk, metrics = os.environ["WRK"], os.environ["METRICS"]
rps = re.search(r"Requests/sec:\s+([\d.]+)", wrk).group(1)
p99 = re.search(r"^\s+99%\s+(\S+)", wrk, re.M).group(1)
def metric(name):
    m = re.search(r"^" + name + r" (\S+)", metrics, re.M)
    return float(m.group(1)) if m else 0.0
count = metric("dfproxy_dns_wait_duration_seconds_count")
mean = 1000 * metric("dfproxy_dns_wait_duration_seconds_sum") / max(count, 1)
buckets = re.findall(r'^dfproxy_dns_wait_duration_seconds_bucket\{le="([^"]+)"\} (\S+)', metrics, re.M)
shown = " ".join(f"<={float(le) * 1000:g}ms:{int(float(n))}" for le, n in buckets if le != "+Inf" and float(le) <= 0.0025)
print(f"round {sys.argv[1]} {sys.argv[2]:>10}: {float(rps):8.0f} req/s  p99 {p99:>7}  DNS waits {int(count)}, "
      f"mean {mean:.3f} ms  {shown}")
open(sys.argv[3], "a").write(f"dfproxy-{sys.argv[2]}\t{rps}\t{p99}\n")
PY
    done
done
python3 - "$summary" <<'PY'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    name, rps, p99 = line.rstrip("\n").split("\t")
    runs.setdefault(name, []).append((float(rps), p99))
medians = {}
for name, values in runs.items():
    values.sort()
    medians[name] = values[len(values) // 2]
    print(f"median {name:>20}: {medians[name][0]:8.0f} req/s  p99 {medians[name][1]:>7}  "
          f"({values[0][0]:.0f}-{values[-1][0]:.0f}, n={len(values)})")
for name, (rps, _) in medians.items():
    if name.startswith("dfproxy-") and "haproxy" in medians:
        print(f"{name} / haproxy: {rps / medians['haproxy'][0]:.2f}")
PY
