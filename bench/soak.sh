#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Bounded soak of a built dfproxy (docs/reliability.md): mixed wrk traffic over N host names served by dnsmasq,
# while routes are applied/deleted every few seconds and the DNS answers are rewritten (hosts file + SIGHUP).
# Samples VmRSS, open fds, requests/s and errors/s of dfproxy every second into a CSV and plots it (gnuplot).
# Everything runs on loopback and stops by itself after DURATION seconds.
#
#   bench/soak.sh [-d SECONDS] [-n HOSTS] [-b BUILD_DIR] [-o OUT_PREFIX]
#   bench/soak.sh -d 300 -o docs/soak/soak-5min      # the 5-minute run recorded in docs/reliability.md
#
# Needs: wrk, dnsmasq (dnsmasq-base), curl, gnuplot (gnuplot-nox); root (dnsmasq binds port 53 on 127.78.0.1).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
duration=1800
hosts=50
build="$root/build/release"
out="$root/docs/soak/soak"
while getopts "d:n:b:o:h" opt; do
    case $opt in
        d) duration=$OPTARG ;;
        n) hosts=$OPTARG ;;
        b) build=$OPTARG ;;
        o) out=$OPTARG ;;
        *) sed -n '2,12p' "$0"; exit 2 ;;
    esac
done
for tool in wrk /usr/sbin/dnsmasq curl gnuplot; do
    command -v "$tool" >/dev/null || { echo "soak: $tool is missing (apt-get install wrk dnsmasq-base curl gnuplot-nox)" >&2; exit 1; }
done
dfproxy="$build/service/dfproxy"
origin_bin="$build/tests/fixtures/dfproxy-test-origin"
[[ -x $dfproxy ]] || dfproxy="$(find "$build" -name dfproxy -type f -perm -u+x | head -1)"
[[ -x $origin_bin ]] || origin_bin="$(find "$build" -name dfproxy-test-origin -type f -perm -u+x | head -1)"
[[ -x $dfproxy && -x $origin_bin ]] || { echo "soak: build dfproxy and dfproxy-test-origin in $build first" >&2; exit 1; }

work="$(mktemp -d /tmp/dfproxy-soak-XXXXXX)"
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
proxy_port=$(free_port); admin_port=$(free_port); origin_port=$(free_port)
dns_ip=127.78.0.1

# Origins: the same port on 127.0.0.1 and 127.0.0.2, so DNS rewrites move traffic between them.
"$origin_bin" --listen "127.0.0.1:$origin_port" --listen "127.0.0.2:$origin_port" --title soak >"$work/origin.log" 2>&1 &
pids+=($!)

write_hosts() { # $1: which rewrite round (alternates the address of every other name)
    : >"$work/hosts.new"
    for ((i = 1; i <= hosts; i++)); do
        if (((i + $1) % 2)); then ip=127.0.0.1; else ip=127.0.0.2; fi
        echo "$ip h$i.soak.test" >>"$work/hosts.new"
    done
    mv "$work/hosts.new" "$work/hosts"
}
write_hosts 0
/usr/sbin/dnsmasq --keep-in-foreground --conf-file=/dev/null --no-resolv --no-hosts --bind-interfaces \
    --listen-address=$dns_ip --port=53 --local-ttl=2 --addn-hosts="$work/hosts" --local=/soak.test/ \
    --pid-file= --user=root >"$work/dnsmasq.log" 2>&1 &
dnsmasq_pid=$!
pids+=($dnsmasq_pid)

cat >"$work/config.json" <<JSON
{"apiVersion": "dfproxy.dev/v1", "kind": "Config",
 "admin": {"address": "127.0.0.1", "port": $admin_port},
 "dns": {"servers": ["$dns_ip"], "minRefreshMs": 0},
 "proxy": {"workers": 2},
 "resources": [
  {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
   "metadata": {"name": "agentgateway-proxy", "namespace": "agentgateway-system"},
   "spec": {"gatewayClassName": "agentgateway", "listeners": [{"name": "http", "protocol": "HTTP", "port": $proxy_port}]}},
  {"apiVersion": "agentgateway.dev/v1alpha1", "kind": "AgentgatewayBackend",
   "metadata": {"name": "dfp-backend", "namespace": "httpbin"}, "spec": {"dynamicForwardProxy": {}}},
  {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
   "metadata": {"name": "dfp-httproute", "namespace": "httpbin"},
   "spec": {"parentRefs": [{"name": "agentgateway-proxy", "namespace": "agentgateway-system"}],
            "rules": [{"backendRefs": [{"name": "dfp-backend", "group": "agentgateway.dev", "kind": "AgentgatewayBackend"}]}]}}
 ]}
JSON
"$dfproxy" --config "$work/config.json" --no-watch-config >"$work/dfproxy.log" 2>&1 &
proxy_pid=$!
pids+=($proxy_pid)
for _ in $(seq 100); do
    curl -s -o /dev/null "http://127.0.0.1:$admin_port/healthz" && break
    sleep 0.1
done
token="$(cat "$work/admin-token")"
api="http://127.0.0.1:$admin_port"
auth="Authorization: Bearer $token"
curl -sf -o /dev/null -H "host: h1.soak.test:$origin_port" "http://127.0.0.1:$proxy_port/" ||
    { echo "soak: dfproxy does not serve; log:" >&2; cat "$work/dfproxy.log" >&2; exit 1; }

# Mixed traffic: GETs of several sizes, POST echo, 404s, short delays, Host rotating over the N names.
cat >"$work/mixed.lua" <<LUA
local n, port, i = $hosts, $origin_port, 0
local paths = {"/", "/bytes/1024", "/bytes/65536", "/status/404", "/delay/20", "/headers"}
request = function()
  i = i + 1
  local host = "h" .. (i % n + 1) .. ".soak.test:" .. port
  if i % 7 == 0 then
    return wrk.format("POST", "/echo", {Host = host, ["Content-Type"] = "text/plain"}, string.rep("x", 512))
  end
  return wrk.format("GET", paths[i % #paths + 1], {Host = host})
end
LUA
wrk -t2 -c32 -d"${duration}s" --timeout 10s -s "$work/mixed.lua" "http://127.0.0.1:$proxy_port/" >"$work/wrk.txt" 2>&1 &
wrk_pid=$!
pids+=($wrk_pid)

# Config churn: a route applied and deleted every 3 s.
(
    n=0
    end=$((SECONDS + duration))
    while ((SECONDS < end)); do
        n=$((n + 1))
        curl -s -o /dev/null -H "$auth" -H 'Content-Type: application/json' -X POST "$api/api/v1/apply" --data-binary \
            "{\"apiVersion\":\"gateway.networking.k8s.io/v1\",\"kind\":\"HTTPRoute\",\"metadata\":{\"name\":\"churn-$n\",\"namespace\":\"httpbin\"},\"spec\":{\"parentRefs\":[{\"name\":\"agentgateway-proxy\",\"namespace\":\"agentgateway-system\"}],\"hostnames\":[\"churn$n.soak.test\"],\"rules\":[{\"backendRefs\":[{\"name\":\"dfp-backend\"}]}]}}"
        sleep 1.5
        curl -s -o /dev/null -H "$auth" -X DELETE "$api/api/v1/namespaces/httpbin/httproutes/churn-$n"
        sleep 1.5
    done
    echo "$n" >"$work/config-changes"
) &
pids+=($!)

# DNS churn: every 10 s every name flips between 127.0.0.1 and 127.0.0.2.
(
    round=0
    end=$((SECONDS + duration))
    while ((SECONDS < end)); do
        sleep 10
        round=$((round + 1))
        write_hosts $round
        kill -HUP $dnsmasq_pid
    done
    echo "$round" >"$work/dns-changes"
) &
pids+=($!)

# Sampler: t, VmRSS kB, open fds, requests total, 4xx total, 5xx total.
mkdir -p "$(dirname "$out")"
csv="$out.csv"
echo "t,rss_kb,fds,requests,r4xx,r5xx" >"$csv"
start=$SECONDS
while kill -0 $wrk_pid 2>/dev/null && kill -0 $proxy_pid 2>/dev/null; do
    rss=$(awk '/^VmRSS:/ {print $2}' /proc/$proxy_pid/status)
    fds=$(ls /proc/$proxy_pid/fd | wc -l)
    stats=$(curl -s -m 2 -H "$auth" "$api/api/v1/stats" || true)
    read -r req r4 r5 < <(python3 -c 'import json,sys
try:
    p = json.loads(sys.argv[1])["proxy"]; c = p["responsesByClass"]
    print(p["requestsTotal"], c["4xx"], c["5xx"])
except Exception:
    print("nan nan nan")' "$stats")
    echo "$((SECONDS - start)),$rss,$fds,$req,$r4,$r5" >>"$csv"
    sleep 1
done
wait $wrk_pid || true
alive=yes; kill -0 $proxy_pid 2>/dev/null || alive=no
sleep 4 # let the churn loops finish their round

# Plot: memory, fds, throughput and 5xx per second (rates from the cumulative counters).
python3 - "$csv" "$work/rates.csv" <<'PY'
import csv, sys
rows = [r for r in csv.DictReader(open(sys.argv[1])) if r["requests"] != "nan"]
with open(sys.argv[2], "w") as f:
    for a, b in zip(rows, rows[1:]):
        dt = max(1, int(b["t"]) - int(a["t"]))
        f.write(f'{b["t"]},{int(b["rss_kb"])/1024:.1f},{b["fds"]},'
                f'{(int(b["requests"]) - int(a["requests"]))/dt:.0f},{(int(b["r5xx"]) - int(a["r5xx"]))/dt:.0f}\n')
PY
gnuplot <<GP
set terminal pngcairo size 1100,800 noenhanced
set output "$out.png"
set datafile separator ","
set multiplot layout 3,1 title "dfproxy soak: ${duration}s, $hosts hosts, a route applied/deleted every 3 s, DNS rewritten every 10 s"
set xlabel "seconds"
set ylabel "VmRSS (MiB)"
plot "$work/rates.csv" using 1:2 with lines title "VmRSS"
set ylabel "open fds"
plot "$work/rates.csv" using 1:3 with lines title "open fds"
set ylabel "per second"
plot "$work/rates.csv" using 1:4 with lines title "requests/s", "$work/rates.csv" using 1:5 with lines title "5xx/s"
unset multiplot
GP

# Summary: growth of memory and fds from the first to the last minute (or tenth, for short runs).
python3 - "$csv" "$work/wrk.txt" "$alive" "$(cat "$work/config-changes" 2>/dev/null || echo ?)" \
    "$(cat "$work/dns-changes" 2>/dev/null || echo ?)" <<'PY' | tee "$out.summary.txt"
import csv, sys
rows = [r for r in csv.DictReader(open(sys.argv[1])) if r["requests"] != "nan"]
n = len(rows)
w = max(1, min(60, n // 10))
avg = lambda rs, k: sum(float(r[k]) for r in rs) / len(rs)
first, last = rows[:w], rows[-w:]
print(f"samples: {n} over {rows[-1]['t']} s (the sampler is late under load); dfproxy alive at end: {sys.argv[3]}; config changes: {sys.argv[4]}; DNS rewrites: {sys.argv[5]}")
print(f"requests: {rows[-1]['requests']} total, 4xx {rows[-1]['r4xx']} (1 request in 7 is a deliberate /status/404), 5xx {rows[-1]['r5xx']}")
print(f"VmRSS: first {w} s avg {avg(first,'rss_kb')/1024:.1f} MiB, last {w} s avg {avg(last,'rss_kb')/1024:.1f} MiB, "
      f"max {max(float(r['rss_kb']) for r in rows)/1024:.1f} MiB")
print(f"open fds: first {w} s avg {avg(first,'fds'):.1f}, last {w} s avg {avg(last,'fds'):.1f}, "
      f"max {max(int(r['fds']) for r in rows)}")
wrk = open(sys.argv[2]).read().strip().splitlines()
print("wrk: " + " | ".join(l.strip() for l in wrk if any(k in l for k in ("requests in", "Requests/sec", "Socket errors", "Non-2xx"))))
PY
echo "soak: wrote $csv, $out.png, $out.summary.txt"
