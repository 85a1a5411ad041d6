#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# dfproxy behind a corporate proxy (docs/upstream-proxy.md): scenario A (GET /small, always svc1.bench.test) sent
#   direct       straight to the origin (scenario D, the limit of this box),
#   squid        to Squid itself in absolute form (what a client configured for the corporate proxy gets),
#   dfproxy      to dfproxy, whose backend's AgentgatewayPolicy sends it on to the same Squid (tunnel.url),
# and the cost of PAC per new host: scenario C (1,000 names, each new to dfproxy) through dfproxy -> Squid with the
# fixed tunnel.url, then with a PAC file (FindProxyForURL with a few shExpMatch/dnsDomainIs rules) answering the same
# proxy. The difference of the mean latency of C is what PAC evaluation (once per host, then cached) adds.
#
#   sudo bench/upstream.sh                    # c=10, 5 s per run
#   sudo CONNS=100 DURATION=10 bench/upstream.sh
#
# Needs root (dnsmasq on 127.0.0.55:53) and: wrk nginx squid dnsmasq curl python3. Environment: DFPROXY (binary;
# default build/release/service/dfproxy), CONNS, DURATION, NAMES (scenario C's names, default 1000), BENCH_LUA.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
bin=${DFPROXY:-$root/build/release/service/dfproxy}
lua=${BENCH_LUA:-$root/../shared/bench/lua/bench.lua}
conns=${CONNS:-10}
duration=${DURATION:-5}
names=${NAMES:-1000}
for tool in wrk nginx squid dnsmasq curl python3; do
    command -v "$tool" >/dev/null || { echo "upstream.sh: $tool is not installed" >&2; exit 2; }
done
[ -x "$bin" ] || { echo "upstream.sh: no dfproxy at $bin (cmake --build --preset release --target dfproxy)" >&2; exit 2; }
[ -f "$lua" ] || { echo "upstream.sh: no wrk script at $lua (set BENCH_LUA)" >&2; exit 2; }

dir=$(mktemp -d /tmp/dfproxy-upstream.XXXXXX)
chmod 777 "$dir" # Squid drops to the proxy user
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$dir"
}
trap cleanup EXIT

dnsmasq --keep-in-foreground --port=53 --listen-address=127.0.0.55 --bind-interfaces --no-resolv --no-hosts \
    --address=/bench.test/127.0.0.1 --local=/bench.test/ --local-ttl=30 --cache-size=10000 \
    --pid-file="$dir/dnsmasq.pid" &
pids+=($!)
small=$(head -c 100 /dev/zero | tr '\0' x)
cat > "$dir/nginx.conf" <<NGINX
worker_processes 1; daemon off; pid $dir/nginx.pid; error_log $dir/nginx-error.log;
events { worker_connections 4096; }
http { access_log off;
  server { listen 127.0.0.1:18380 backlog=4096; keepalive_requests 1000000; location /small { return 200 "$small"; } } }
NGINX
nginx -c "$dir/nginx.conf" &
pids+=($!)
touch "$dir/cache.log"
chmod 666 "$dir/cache.log"
cat > "$dir/squid.conf" <<SQUID
http_port 127.0.0.1:18381
pid_filename none
cache_log stdio:$dir/cache.log
access_log none
cache_store_log none
cache deny all
cache_mem 8 MB
shutdown_lifetime 0 seconds
visible_hostname dfproxy-bench-squid
dns_nameservers 127.0.0.55
acl localnet src 127.0.0.0/8
http_access allow localnet
http_access deny all
SQUID
squid -N -f "$dir/squid.conf" &
pids+=($!)
for _ in $(seq 100); do curl -s -o /dev/null -x http://127.0.0.1:18381 http://svc1.bench.test:18380/small && break; sleep 0.1; done

cat > "$dir/corp.pac" <<'PAC'
function FindProxyForURL(url, host) {
    if (isPlainHostName(host) || dnsDomainIs(host, ".corp.example") || shExpMatch(host, "*.internal.*"))
        return "DIRECT";
    if (isInNet(host, "10.0.0.0", "255.0.0.0"))
        return "DIRECT";
    return "PROXY 127.0.0.1:18381; DIRECT";
}
PAC

# run LABEL TARGET MODE HOSTS
run() {
    local label=$1 target=$2 mode=$3 hosts=$4
    local out
    out=$(BENCH_MODE=$mode BENCH_PATH=/small BENCH_HOSTS=$hosts BENCH_DOMAIN=bench.test BENCH_ORIGIN_PORT=18380 \
        wrk -t2 -c"$conns" -d"${duration}s" --latency -s "$lua" "$target" 2>&1)
    WRK="$out" python3 - "$label" <<'PY'
import os, re, sys
wrk = os.environ["WRK"]
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", wrk).group(1))
r = dict(kv.split("=") for kv in re.search(r"BENCH_RESULT (.*)", wrk).group(1).split())
print(f"{sys.argv[1]:<28} {rps:9.0f} req/s  mean {float(r['mean_us']) / 1000:6.3f} ms  "
      f"p99 {int(r['p99_us']) / 1000:6.3f} ms  errors {int(r['err_connect']) + int(r['err_read']) + int(r['err_status'])}")
PY
}

# start_dfproxy ANNOTATIONS_JSON
start_dfproxy() {
    cat > "$dir/config.json" <<JSON
{"apiVersion": "dfproxy.dev/v1", "kind": "Config", "admin": {"address": "127.0.0.1", "port": 15998},
 "dns": {"servers": ["127.0.0.55"], "maxHosts": $((names + 24))}, "proxy": {"workers": 1},
 "logging": {"accessLog": {"enabled": true, "path": "$dir/access.log", "maxFiles": 1}},
 "resources": [
  {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway", "metadata": {"name": "gw", "namespace": "bench"},
   "spec": {"gatewayClassName": "dfproxy", "listeners": [{"name": "http", "protocol": "HTTP", "port": 18385}]}},
  {"apiVersion": "agentgateway.dev/v1alpha1", "kind": "AgentgatewayBackend",
   "metadata": {"name": "dfp", "namespace": "bench"}, "spec": {"dynamicForwardProxy": {}}},
  {"apiVersion": "agentgateway.dev/v1alpha1", "kind": "AgentgatewayPolicy",
   "metadata": {"name": "corp-proxy", "namespace": "bench", "annotations": $1},
   "spec": {"targetRefs": [{"group": "agentgateway.dev", "kind": "AgentgatewayBackend", "name": "dfp"}],
            "backend": {"tunnel": {"url": "http://127.0.0.1:18381"}}}},
  {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute", "metadata": {"name": "all", "namespace": "bench"},
   "spec": {"parentRefs": [{"name": "gw", "namespace": "bench"}],
            "rules": [{"backendRefs": [{"group": "agentgateway.dev", "kind": "AgentgatewayBackend", "name": "dfp"}]}]}}]}
JSON
    HOME="$dir" "$bin" --config "$dir/config.json" --no-watch-config > "$dir/dfproxy.log" 2>&1 &
    dfpid=$!
    for _ in $(seq 100); do curl -s -o /dev/null -H 'host: svc1.bench.test:18380' http://127.0.0.1:18385/small && break; sleep 0.1; done
}
stop_dfproxy() {
    kill "$dfpid"
    wait "$dfpid" 2>/dev/null || true
}

echo "scenario A (c=$conns, ${duration}s):"
run "D direct to the origin" http://127.0.0.1:18380 host 1
run "A client -> squid" http://127.0.0.1:18381 absolute 1
start_dfproxy '{}'
run "A client -> dfproxy -> squid" http://127.0.0.1:18385 host 1
echo "scenario C, $names names new to dfproxy (c=$conns, ${duration}s):"
run "C fixed tunnel.url" http://127.0.0.1:18385 host "$names"
stop_dfproxy
start_dfproxy "{\"dfproxy.dev/tunnel-pac-url\": \"file://$dir/corp.pac\"}"
run "C PAC (evaluated per host)" http://127.0.0.1:18385 host "$names"
grep -c '"upstreamProxyReason":"pac PROXY' "$dir/access.log" | sed 's/^/  requests the PAC chose for: /'
stop_dfproxy
