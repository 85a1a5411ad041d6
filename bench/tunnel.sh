#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# CONNECT tunnel throughput: one long-lived tunnel through dfproxy to a local origin that answers each 1-byte
# request with a 64 KiB response; the client asks again as soon as a response is complete (a request/response
# loop, like a TLS session's records, not a bulk stream). Prints MiB/s and dfproxy's CPU time per GiB for each
# run, and the medians. With MODE=callgrind it counts dfproxy's user-space instructions per 64 KiB response
# instead (deterministic: for comparing two builds on a shared machine; see bench/instructions.sh).
# With SETUP=1 each round is a new tunnel instead (connect, CONNECT, one 64 KiB response, close): the tunnel setup
# cost, per tunnel.
#
#   bench/tunnel.sh                                          # build/release/service/dfproxy, 3 runs of 20000
#   bench/tunnel.sh /tmp/old-dfproxy build/release/service/dfproxy
#   ROUNDS=2000 MODE=callgrind bench/tunnel.sh /tmp/old-dfproxy build/release/service/dfproxy
#   SETUP=1 ROUNDS=500 MODE=callgrind bench/tunnel.sh /tmp/old-dfproxy build/release/service/dfproxy
#
# Needs python3 (and valgrind for MODE=callgrind). Touches only 127.0.0.1.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
mode=${MODE:-wall}
rounds=${ROUNDS:-20000}
repeat=${REPEAT:-3}
port=${PORT:-18091}
setup=${SETUP:-0}
[ $# -gt 0 ] || set -- "$root/build/release/service/dfproxy"
[ "$mode" != callgrind ] || command -v valgrind >/dev/null || { echo "valgrind is not installed" >&2; exit 2; }
for bin in "$@"; do
    [ -x "$bin" ] || { echo "not an executable: $bin" >&2; exit 2; }
    python3 - "$bin" "$mode" "$rounds" "$repeat" "$port" "$setup" <<'PY'
import os, socket, statistics, subprocess, sys, tempfile, threading, time, glob

bin_, mode, rounds, repeat, port = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
setup = sys.argv[6] == "1"
CHUNK = 64 * 1024
payload = bytes(i % 251 for i in range(CHUNK))

origin = socket.socket()
origin.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
origin.bind(("127.0.0.1", 0))
origin.listen(8)
origin_port = origin.getsockname()[1]

def serve():
    while True:
        c, _ = origin.accept()
        def one(c=c):
            c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            while c.recv(1):
                c.sendall(payload)
            c.close()
        threading.Thread(target=one, daemon=True).start()
threading.Thread(target=serve, daemon=True).start()

def run_once(tag):
    d = tempfile.mkdtemp(prefix="dfproxy-tunnel-bench-")
    conf = os.path.join(d, "dfproxy.json")
    with open(conf, "w") as f:
        f.write('''{"apiVersion": "dfproxy.dev/v1", "kind": "Config",
 "admin": {"address": "127.0.0.1", "port": 0},
 "dns": {"servers": ["127.0.0.1"]}, "proxy": {"workers": 1},
 "logging": {"accessLog": {"enabled": true, "path": "%s/access.log", "maxFiles": 1}},
 "resources": [
  {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
   "metadata": {"name": "agentgateway-proxy", "namespace": "agentgateway-system"},
   "spec": {"gatewayClassName": "agentgateway", "listeners": [{"name": "http", "protocol": "HTTP", "port": %d,
            "allowedConnectPorts": [%d]}]}},
  {"apiVersion": "agentgateway.dev/v1alpha1", "kind": "AgentgatewayBackend",
   "metadata": {"name": "dfp-backend", "namespace": "httpbin"}, "spec": {"dynamicForwardProxy": {}}},
  {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
   "metadata": {"name": "dfp-httproute", "namespace": "httpbin"},
   "spec": {"parentRefs": [{"name": "agentgateway-proxy", "namespace": "agentgateway-system"}],
            "rules": [{"backendRefs": [{"group": "agentgateway.dev", "kind": "AgentgatewayBackend",
                                        "name": "dfp-backend"}]}]}}]}''' % (d, port, origin_port))
    cmd = [bin_, "--config", conf, "--no-watch-config"]
    if mode == "callgrind":
        cmd = ["valgrind", "--tool=callgrind", "--collect-atstart=no",
               "--toggle-collect=QEventDispatcherUNIX::processEvents*",
               "--toggle-collect=dfproxy::telemetry::AccessLogger::processPending*",
               "--callgrind-out-file=%s/callgrind.%%p" % d] + cmd
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 60
        while True:
            try:
                s = socket.create_connection(("127.0.0.1", port), timeout=60)
                break
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(0.1)
        s.close()
        def tunnel():
            s = socket.create_connection(("127.0.0.1", port), timeout=60)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            s.sendall(b"CONNECT 127.0.0.1:%d HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n" % (origin_port, origin_port))
            head = b""
            while b"\r\n\r\n" not in head:
                head += s.recv(4096)
            assert head.startswith(b"HTTP/1.1 200"), head
            return s
        s = tunnel()
        buf = bytearray(CHUNK)
        def cpu():
            with open("/proc/%d/stat" % p.pid) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        cpu0, t0 = cpu(), time.perf_counter()
        view = memoryview(buf)
        for _ in range(rounds):
            if setup:
                s.close()
                s = tunnel()
            s.sendall(b"x")
            got = 0
            while got < CHUNK:
                n = s.recv_into(view[got:], CHUNK - got)
                if n == 0:
                    raise RuntimeError("tunnel closed")
                got += n
        elapsed, used = time.perf_counter() - t0, cpu() - cpu0
        s.close()
        mib = rounds * CHUNK / (1 << 20)
        return mib / elapsed, used / (mib / 1024)
    finally:
        time.sleep(0.5)
        p.terminate()
        p.wait(60)
        if mode == "callgrind":
            f = max(glob.glob(d + "/callgrind.*"), key=os.path.getsize)
            ir = 0
            for line in open(f):
                if line.startswith("summary:") or line.startswith("totals:"):
                    ir = int(line.split()[1])
                    break
            print("%s: rounds=%d instructions=%d %s=%d profile=%s" % (
                bin_, rounds, ir, "per_tunnel_setup" if setup else "per_64KiB_response", ir // rounds, f))

if mode == "callgrind":
    run_once(0)
else:
    results = [run_once(i) for i in range(repeat)]
    for mibs, cpu_per_gib in results:
        print("%s: %.0f MiB/s, dfproxy CPU %.2f s per GiB" % (bin_, mibs, cpu_per_gib))
    print("%s: median %.0f MiB/s, median CPU %.2f s per GiB (%d x %d responses of 64 KiB)" % (
        bin_, statistics.median(r[0] for r in results), statistics.median(r[1] for r in results), repeat, rounds))
PY
done
