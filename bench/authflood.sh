#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# What a flood of wrong Basic passwords does to the other clients of the same proxy worker (docs/policies.md,
# "Password checks, the cache and the throttle"): one dfproxy worker, an AuthenticationPolicy whose user has a bcrypt
# (cost COST) hash, CLIENTS clients re-sending the right password (served from the verification cache after the
# first request), measured once alone for DURATION seconds and once while FLOOD wrong passwords arrive on FLOOD_CONNS
# connections from SOURCES loopback addresses (FLOOD/SOURCES each, at most the throttle's 10, so every one is really
# hashed). Prints the measured clients' request count and p50/p99/max latency per phase, and how the flood was
# answered (401 = hashed and refused, 429 = throttled, 503 = verification queue full).
#
#   bench/authflood.sh
#   FLOOD=2000 SOURCES=200 FLOOD_CONNS=100 bench/authflood.sh
#   DFPROXY=/path/to/other/dfproxy bench/authflood.sh     # the same against another build
#
# Needs python3 (with its crypt module, for the bcrypt hash) and curl; no root. Uses ports 18281 (origin), 18286
# (proxy) and 15998 (admin) on 127.0.0.1. Environment: DFPROXY (binary; default build/release/service/dfproxy), ORIGIN
# (default build/release/tests/fixtures/dfproxy-test-origin), CLIENTS, DURATION, FLOOD, FLOOD_CONNS, SOURCES, COST.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
bin=${DFPROXY:-$root/build/release/service/dfproxy}
origin=${ORIGIN:-$root/build/release/tests/fixtures/dfproxy-test-origin}
clients=${CLIENTS:-4}
duration=${DURATION:-5}
flood=${FLOOD:-1000}
flood_conns=${FLOOD_CONNS:-50}
sources=${SOURCES:-100}
cost=${COST:-10}
for tool in curl python3; do
    command -v "$tool" >/dev/null || { echo "authflood.sh: $tool is not installed" >&2; exit 2; }
done
[ -x "$bin" ] || { echo "authflood.sh: no dfproxy at $bin (cmake --build --preset release --target dfproxy)" >&2; exit 2; }
[ -x "$origin" ] || { echo "authflood.sh: no origin at $origin (cmake --build --preset release)" >&2; exit 2; }

dir=$(mktemp -d /tmp/dfproxy-authflood.XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$dir"
}
trap cleanup EXIT

hash=$(python3 -W ignore -c "import crypt; print(crypt.crypt('right-password', crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=2**$cost)))")
"$origin" --listen 127.0.0.1:18281 > "$dir/origin.log" 2>&1 &
pids+=($!)
cat > "$dir/config.json" <<JSON
{"apiVersion": "dfproxy.dev/v1", "kind": "Config", "admin": {"address": "127.0.0.1", "port": 15998},
 "proxy": {"workers": 1},
 "resources": [
  {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway", "metadata": {"name": "gw", "namespace": "bench"},
   "spec": {"gatewayClassName": "dfproxy", "listeners": [{"name": "http", "protocol": "HTTP", "port": 18286}]}},
  {"apiVersion": "agentgateway.dev/v1alpha1", "kind": "AgentgatewayBackend",
   "metadata": {"name": "dfp", "namespace": "bench"}, "spec": {"dynamicForwardProxy": {}}},
  {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute", "metadata": {"name": "all", "namespace": "bench"},
   "spec": {"parentRefs": [{"name": "gw", "namespace": "bench"}],
            "rules": [{"backendRefs": [{"group": "agentgateway.dev", "kind": "AgentgatewayBackend", "name": "dfp"}]}]}},
  {"apiVersion": "dfproxy.dev/v1alpha1", "kind": "AuthenticationPolicy", "metadata": {"name": "users", "namespace": "bench"},
   "spec": {"targetRefs": [{"kind": "Gateway", "name": "gw"}],
            "basic": {"users": [{"name": "alice", "passwordHash": "$hash"}]}}}]}
JSON
HOME="$dir" "$bin" --config "$dir/config.json" --no-watch-config > "$dir/dfproxy.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do curl -s -o /dev/null http://127.0.0.1:18286/ && break; sleep 0.1; done

python3 - "$clients" "$duration" "$flood" "$flood_conns" "$sources" <<'PY'
import base64, collections, http.client, sys, threading, time
clients, duration, flood, flood_conns, sources = map(int, sys.argv[1:])
host = "127.0.0.1:18281"
def auth(user, pw):
    return "Basic " + base64.b64encode(f"{user}:{pw}".encode()).decode()
right = auth("alice", "right-password")

def measure(stop, latencies):
    conn = http.client.HTTPConnection("127.0.0.1", 18286, timeout=120)
    while not stop.is_set():
        t = time.perf_counter()
        try:
            conn.request("GET", "/", headers={"Host": host, "Authorization": right})
            r = conn.getresponse()
            r.read()
            if r.status != 200:
                print(f"measured client got {r.status}", file=sys.stderr)
        except Exception as e:
            print(f"measured client: {e}", file=sys.stderr)
            conn = http.client.HTTPConnection("127.0.0.1", 18286, timeout=120)
            continue
        latencies.append(time.perf_counter() - t)

def phase(name, during=None):
    stop, lat = threading.Event(), []
    threads = [threading.Thread(target=measure, args=(stop, lat)) for _ in range(clients)]
    for t in threads: t.start()
    start = time.perf_counter()
    extra = during() if during else (time.sleep(duration) or "")
    stop.set()
    for t in threads: t.join()
    took = time.perf_counter() - start
    lat.sort()
    pct = lambda p: 1000 * lat[min(len(lat) - 1, int(p * len(lat)))]
    print(f"{name:>8}: {len(lat):6d} requests in {took:5.1f} s  p50 {pct(0.50):7.2f} ms  p99 {pct(0.99):8.2f} ms  "
          f"max {1000 * lat[-1]:8.2f} ms  {extra}")

def run_flood():
    jobs = [(f"127.0.0.{2 + i % sources}", f"wrong-{i}") for i in range(flood)]
    lock, codes = threading.Lock(), collections.Counter()
    def worker():
        conns = {}
        while True:
            with lock:
                if not jobs: return
                src, pw = jobs.pop()
            conn = conns.get(src) or http.client.HTTPConnection("127.0.0.1", 18286, timeout=300, source_address=(src, 0))
            conns[src] = conn
            try:
                conn.request("GET", "/", headers={"Host": host, "Authorization": auth("alice", pw)})
                r = conn.getresponse()
                r.read()
                status = r.status
                if r.getheader("connection", "").lower() == "close": conns.pop(src).close()
            except Exception:
                status = "error"
                conns.pop(src, None)
            with lock: codes[status] += 1
    threads = [threading.Thread(target=worker) for _ in range(flood_conns)]
    for t in threads: t.start()
    for t in threads: t.join()
    return f"flood of {flood} wrong passwords answered " + " ".join(f"{k}:{v}" for k, v in sorted(codes.items(), key=str))

phase("warm-up", lambda: time.sleep(1) or "")
phase("alone")
phase("flood", run_flood)
PY
