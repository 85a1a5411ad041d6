#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# What the application lookup (docs/applications.md, proxy.applicationLookup) costs: scenario A (one host, 100-byte
# responses, keep-alive: wrk reuses its connections, so the lookup runs once per connection) and a
# new-connection-per-request variant (wrk with "Connection: close": one lookup per request), each with the lookup on
# and off, one dfproxy worker. Prints requests/s and p99 per run and, with the lookup on, the lookup's own average
# cost per connection from GET /api/v1/stats (proxy.applicationLookup.lookupMicrosTotal / lookups).
#
# With INSTRUCTIONS=1 it counts instead, under valgrind's callgrind, the user-space instructions per request of
# the same four cases (deterministic, unlike requests/s on a shared machine): the workers' event handling
# (QEventDispatcherUNIX::processEvents) and the lookup thread's lookups (ClientApplications::runJob), from a
# fresh dfproxy per case after a warm-up; the callgrind files stay in OUT_DIR for callgrind_annotate.
#
#   bench/applications.sh
#   DURATION=20 CONNS=50 REPEAT=3 bench/applications.sh
#   DFPROXY=/path/to/other/dfproxy bench/applications.sh
#   INSTRUCTIONS=1 DURATION=5 bench/applications.sh       # needs valgrind
#
# Needs wrk, curl and python3 (and valgrind for INSTRUCTIONS=1); no root. Uses ports 18291 (origin), 18296 (proxy) and 15996 (admin) on 127.0.0.1.
# Environment: DFPROXY (default build/release/service/dfproxy), ORIGIN (default
# build/release/tests/fixtures/dfproxy-test-origin), DURATION (s per run, default 10), CONNS (default 10), REPEAT
# (runs per case, the median is printed; default 1).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
bin=${DFPROXY:-$root/build/release/service/dfproxy}
origin=${ORIGIN:-$root/build/release/tests/fixtures/dfproxy-test-origin}
duration=${DURATION:-10}
conns=${CONNS:-10}
repeat=${REPEAT:-1}
instructions=${INSTRUCTIONS:-0}
out_dir=${OUT_DIR:-/tmp/dfproxy-apps-instructions}
launcher=()
if [ "$instructions" = 1 ]; then
    command -v valgrind >/dev/null || { echo "applications.sh: valgrind is not installed" >&2; exit 2; }
    mkdir -p "$out_dir"
fi
for tool in wrk curl python3; do
    command -v "$tool" >/dev/null || { echo "applications.sh: $tool is not installed" >&2; exit 2; }
done
[ -x "$bin" ] || { echo "applications.sh: no dfproxy at $bin (cmake --build --preset release --target dfproxy)" >&2; exit 2; }
[ -x "$origin" ] || { echo "applications.sh: no origin at $origin (cmake --build --preset release)" >&2; exit 2; }

dir=$(mktemp -d /tmp/dfproxy-apps-bench.XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$dir"
}
trap cleanup EXIT

"$origin" --listen 127.0.0.1:18291 > "$dir/origin.log" 2>&1 &
pids+=($!)

start_proxy() { # $1 = on|off
    cat > "$dir/config.json" <<JSON
{"apiVersion": "dfproxy.dev/v1", "kind": "Config", "admin": {"address": "127.0.0.1", "port": 15996},
 "proxy": {"workers": 1, "applicationLookup": "$1"},
 "logging": {"accessLog": {"enabled": false}},
 "resources": [
  {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway", "metadata": {"name": "gw", "namespace": "bench"},
   "spec": {"gatewayClassName": "dfproxy", "listeners": [{"name": "http", "protocol": "HTTP", "port": 18296}]}},
  {"apiVersion": "agentgateway.dev/v1alpha1", "kind": "AgentgatewayBackend",
   "metadata": {"name": "dfp", "namespace": "bench"}, "spec": {"dynamicForwardProxy": {}}},
  {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute", "metadata": {"name": "all", "namespace": "bench"},
   "spec": {"parentRefs": [{"name": "gw", "namespace": "bench"}],
            "rules": [{"backendRefs": [{"group": "agentgateway.dev", "kind": "AgentgatewayBackend", "name": "dfp"}]}]}}]}
JSON
    HOME="$dir" "${launcher[@]}" "$bin" --config "$dir/config.json" --no-watch-config > "$dir/dfproxy-$1.log" 2>&1 &
    proxy_pid=$!
    for _ in $(seq 600); do
        curl -s -o /dev/null -H "Host: 127.0.0.1:18291" http://127.0.0.1:18296/bytes/100 && return 0
        sleep 0.1
    done
    echo "applications.sh: dfproxy did not start:" >&2
    cat "$dir/dfproxy-$1.log" >&2
    exit 1
}

# wrk's summary -> "requests/s p99_ms"
measure() { # $@ = extra wrk arguments
    local out
    out=$(wrk -t1 -c"$conns" -d"${duration}s" --latency -H "Host: 127.0.0.1:18291" "$@" http://127.0.0.1:18296/bytes/100)
    python3 - "$out" <<'PY'
import re, sys
text = sys.argv[1]
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
m = re.search(r"99%\s+([\d.]+)(us|ms|s)\b", text)
p99 = float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]
print(f"{rps:.0f} {p99:.2f}")
PY
}

median_of() { # lines "rps p99" -> the line with the median rps
    sort -n | awk '{a[NR]=$0} END {print a[int((NR + 1) / 2)]}'
}

lookup_cost() {
    curl -s -H "Authorization: Bearer $(cat "$dir/admin-token")" \
        http://127.0.0.1:15996/api/v1/stats | python3 -c '
import json, sys
s = json.load(sys.stdin)["proxy"]["applicationLookup"]
n = max(1, s["lookups"])
print("lookups %d found %d avg %.1f us per connection; first requests that waited for it: %d"
      % (s["lookups"], s["found"], s["lookupMicrosTotal"] / n, s.get("waited", 0)))'
}

stop_proxy() {
    kill "$proxy_pid"
    wait "$proxy_pid" 2>/dev/null || true
}

if [ "$instructions" = 1 ]; then
    printf '%-16s %-6s %9s %14s %12s %14s\n' scenario lookup requests instructions per_request lookup_thread
    for scenario in A-keepalive new-connection; do
        extra=()
        [ "$scenario" = new-connection ] && extra=(-H "Connection: close")
        for lookup in off on; do
            file="$out_dir/callgrind.$scenario.$lookup"
            launcher=(valgrind --tool=callgrind --collect-atstart=no
                      "--toggle-collect=QEventDispatcherUNIX::processEvents*"
                      "--toggle-collect=dfproxy::proxy::ClientApplications::runJob*"
                      "--callgrind-out-file=$file")
            start_proxy "$lookup"
            wrk -t1 -c"$conns" -d2s -H "Host: 127.0.0.1:18291" "${extra[@]}" http://127.0.0.1:18296/bytes/100 >/dev/null
            callgrind_control --zero "$proxy_pid" >/dev/null 2>&1
            out=$(wrk -t1 -c"$conns" -d"${duration}s" -H "Host: 127.0.0.1:18291" "${extra[@]}" \
                http://127.0.0.1:18296/bytes/100)
            requests=$(sed -n 's/^ *\([0-9]*\) requests in.*/\1/p' <<<"$out")
            stop_proxy
            ir=$(awk '/^(summary|totals):/ { print $2; exit }' "$file")
            # The lookup thread's share: runJob's inclusive cost (0 with the lookup off).
            # (awk reads to the end: an early exit would fail the pipeline under pipefail.)
            job=$(callgrind_annotate --inclusive=yes --threshold=100 "$file" 2>/dev/null \
                | awk '/:dfproxy::proxy::ClientApplications::runJob\(/ && !n { gsub(",", "", $1); n = $1 } END { print n + 0 }')
            printf '%-16s %-6s %9s %14s %12s %14s\n' "$scenario" "$lookup" "$requests" "$ir" \
                "$((ir / requests))" "$(( ${job:-0} / requests ))"
        done
    done
    exit 0
fi

printf '%-28s %-6s %12s %10s\n' scenario lookup requests/s p99_ms
for lookup in off on; do
    start_proxy "$lookup"
    wrk -t1 -c"$conns" -d2s -H "Host: 127.0.0.1:18291" http://127.0.0.1:18296/bytes/100 > /dev/null # warm-up
    for scenario in A-keepalive new-connection; do
        extra=()
        [ "$scenario" = new-connection ] && extra=(-H "Connection: close")
        result=$(for _ in $(seq "$repeat"); do measure "${extra[@]}"; done | median_of)
        printf '%-28s %-6s %12s %10s\n' "$scenario" "$lookup" ${result}
    done
    [ "$lookup" = on ] && echo "  $(lookup_cost)"
    stop_proxy
done
