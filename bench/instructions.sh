#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# User-space instructions per proxied request, counted by valgrind's callgrind: a deterministic measure for
# comparing two builds when requests/s and CPU time move ±15 % from run to run on a shared machine. Counts the
# worker threads' event handling and the access-log writer (everything under QEventDispatcherUNIX::processEvents and
# AccessLogger::processPending), not start-up and not the kernel. The same wrk load as bench/run.sh, at the slow
# pace valgrind allows; divide by the requests wrk completed.
#
#   bench/instructions.sh                                   # build/release/service/dfproxy, scenario A, c=10
#   bench/instructions.sh /tmp/old-dfproxy build/release/service/dfproxy      # two builds, one after the other
#   SCENARIO=C CONNS=100 DURATION=6 bench/instructions.sh
#   MODE=absolute bench/instructions.sh                     # absolute-form requests (curl -x) instead of Host
#
# Prints one line per binary: requests, instructions, instructions per request, and the callgrind file to open
# with callgrind_annotate (--inclusive=yes for the call tree). Needs root, valgrind and what bench/run.sh needs.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
run_peers=${RUN_PEERS:-$root/../shared/bench/run-peers.sh}
[ -x "$run_peers" ] || [ -n "${RUN_PEERS:-}" ] || run_peers=$root/../../shared/bench/run-peers.sh # a worktree
scenario=${SCENARIO:-A}
mode=${MODE:-host}
conns=${CONNS:-10}
duration=${DURATION:-4}
out=${OUT_DIR:-/tmp/dfproxy-instructions}
command -v valgrind >/dev/null || { echo "valgrind is not installed (apt-get install -y valgrind)" >&2; exit 2; }
[ -x "$run_peers" ] || { echo "run-peers.sh not found at $run_peers (set RUN_PEERS)" >&2; exit 2; }
[ $# -gt 0 ] || set -- "$root/build/release/service/dfproxy"
mkdir -p "$out"
n=0
for bin in "$@"; do
    n=$((n + 1))
    [ -x "$bin" ] || { echo "not an executable: $bin" >&2; exit 2; }
    bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
    name="build$n"
    rm -rf "$out/$name" "$out/callgrind.$name".*
    "$run_peers" --peers none --modes "$mode" --scenarios "$scenario" --conns "$conns" --duration "$duration" \
        --repeat 1 --quiet-wait 0 --run-dir "$out/$name" \
        --candidate "valgrind --tool=callgrind --trace-children=yes --collect-atstart=no \
--toggle-collect='QEventDispatcherUNIX::processEvents*' \
--toggle-collect='dfproxy::telemetry::AccessLogger::processPending*' \
--callgrind-out-file=$out/callgrind.$name.%p '$here/dfproxy-candidate.sh' '$bin' native 1" \
        --candidate-port 18085 --candidate-mode "$mode" --candidate-name "$name" >"$out/$name.log" 2>&1 \
        || { echo "run-peers failed for $bin: see $out/$name.log" >&2; exit 1; }
    requests=$(awk -F'\t' -v n="$name" 'NR > 1 && $1 == n { s += $6 } END { print s + 0 }' "$out/$name/results.tsv")
    file=$(ls -S "$out/callgrind.$name".* | head -n1) # the dfproxy process (the wrapper shell's file is tiny)
    ir=$(awk '/^(summary|totals):/ { print $2; exit }' "$file")
    [ "$requests" -gt 0 ] || { echo "$bin: no requests completed (see $out/$name.log)" >&2; exit 1; }
    echo "$bin: requests=$requests instructions=$ir per_request=$((ir / requests)) profile=$file"
done
