#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Runs dfproxy in the foreground as a run-peers.sh candidate: writes a config for the bench's DNS and port into
# $BENCH_RUN_DIR and execs the binary. Usage: dfproxy-candidate.sh DFPROXY_BINARY native|qnam [WORKERS]
# The access log is on (JSON lines to $BENCH_RUN_DIR/access-ENGINE.log, one rotated file kept), as the targets in docs/benchmarks.md require;
# DFPROXY_ACCESS_LOG=off turns it off (the in-memory ring of recent records is fed either way).
# DFPROXY_DNS_RESOLVER=udp|qdnslookup picks the DNS client (docs/dns.md; unset: "auto", which is udp here) and
# names the config and log files after it, so two candidates that differ only in it can run side by side.
set -euo pipefail
bin=$1
engine=${2:-native}
workers=${3:-1}
dir=${BENCH_RUN_DIR:?run me through run-peers.sh}
mkdir -p "$dir"
access_log=true
[ "${DFPROXY_ACCESS_LOG:-on}" = off ] && access_log=false
resolver_field=""
[ -z "${DFPROXY_DNS_RESOLVER:-}" ] || resolver_field=", \"resolver\": \"$DFPROXY_DNS_RESOLVER\""
name=$engine${DFPROXY_DNS_RESOLVER:+-$DFPROXY_DNS_RESOLVER}
engine_field=""
[ "$engine" = native ] || engine_field=", \"engine\": \"$engine\""
cat > "$dir/dfproxy-$name.json" <<JSON
{
  "apiVersion": "dfproxy.dev/v1", "kind": "Config",
  "admin": {"address": "127.0.0.1", "port": 0},
  "dns": {"servers": ["${BENCH_DNS_IP:?}"]$resolver_field},
  "proxy": {"workers": $workers},
  "logging": {"accessLog": {"enabled": $access_log, "path": "$dir/access-$name.log", "maxFiles": 1${DFPROXY_LOG_EXTRA:-}}},
  "resources": [
    {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
     "metadata": {"name": "agentgateway-proxy", "namespace": "agentgateway-system"},
     "spec": {"gatewayClassName": "agentgateway",
              "listeners": [{"name": "http", "protocol": "HTTP", "port": ${BENCH_PORT:?}}]}},
    {"apiVersion": "agentgateway.dev/v1alpha1", "kind": "AgentgatewayBackend",
     "metadata": {"name": "dfp-backend", "namespace": "httpbin"},
     "spec": {"dynamicForwardProxy": {}$engine_field}},
    {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
     "metadata": {"name": "dfp-httproute", "namespace": "httpbin"},
     "spec": {"parentRefs": [{"name": "agentgateway-proxy", "namespace": "agentgateway-system"}],
              "rules": [{"backendRefs": [{"group": "agentgateway.dev", "kind": "AgentgatewayBackend",
                                          "name": "dfp-backend"}]}]}}
  ]
}
JSON
exec "$bin" --config "$dir/dfproxy-$name.json" --no-watch-config
