#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# dfproxy against nginx, squid, tinyproxy and HAProxy on loopback (wrk; scenarios A: one host 100 B, B: one host
# 64 KiB, C: 1000 rotating hosts 100 B; c=10 and c=100; host-header and absolute-form requests), both engines.
# Prints requests/s, p50/p99, CPU per request, peak RSS and upstream requests per upstream connection.
#
#   bench/run.sh                          # full comparison (~20 min): all peers, both dfproxy engines
#   bench/run.sh --peers haproxy --repeat 3 --quiet-wait 30
#   bench/run.sh --peers none --duration 3 --conns 10      # smoke run, dfproxy only
#   bench/run.sh --workers 2 --peers haproxy                # two dfproxy workers vs nbthread 2 / worker_processes 2
#
# --workers N sets dfproxy's proxy.workers and the peers' --proxy-workers (HAProxy nbthread, nginx
# worker_processes) together, so both sides get the same number of threads.
# Every other option goes to run-peers.sh (see its --help). Needs root and: wrk nginx haproxy squid tinyproxy
# dnsmasq curl (apt-get install -y wrk nginx haproxy squid tinyproxy dnsmasq-base curl).
# Environment: DFPROXY (binary; default build/release/service/dfproxy, built with -DCMAKE_BUILD_TYPE=Release),
# RUN_PEERS (default ../shared/bench/run-peers.sh next to the repo), DFPROXY_WORKERS (default 1, like the
# peers' --proxy-workers), DFPROXY_ENGINES (default "native qnam"), DFPROXY_ACCESS_LOG (default on: each dfproxy
# writes its JSON access log to the run directory, as the targets require; "off" leaves only the in-memory ring).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
dfproxy=${DFPROXY:-$root/build/release/service/dfproxy}
run_peers=${RUN_PEERS:-$root/../shared/bench/run-peers.sh}
# A worktree sits one level deeper than the main checkout (/work/wt/NAME next to /work/main).
[ -x "$run_peers" ] || [ -n "${RUN_PEERS:-}" ] || run_peers=$root/../../shared/bench/run-peers.sh
workers=${DFPROXY_WORKERS:-1}
engines=${DFPROXY_ENGINES:-native qnam}

passed=()
while [ $# -gt 0 ]; do
    case $1 in
        --workers) workers=${2:?--workers needs a number}; shift 2 ;;
        --workers=*) workers=${1#--workers=}; shift ;;
        *) passed+=("$1"); shift ;;
    esac
done
case $workers in ''|*[!0-9]*|0) echo "--workers must be a positive number, not '$workers'" >&2; exit 2 ;; esac

if [ ! -x "$dfproxy" ]; then
    echo "no dfproxy binary at $dfproxy; build one:" >&2
    echo "  cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release && cmake --build build/release --target dfproxy" >&2
    exit 2
fi
if [ ! -x "$run_peers" ]; then
    echo "run-peers.sh not found at $run_peers (set RUN_PEERS)" >&2
    exit 2
fi

args=()
port=18085
for engine in $engines; do
    args+=(--candidate "'$here/dfproxy-candidate.sh' '$dfproxy' $engine $workers"
           --candidate-port "$port" --candidate-mode both --candidate-name "dfproxy-$engine")
    port=$((port + 1))
done
exec "$run_peers" --proxy-workers "$workers" "${args[@]}" "${passed[@]}"
