#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""dfproxy / peer tables from a run-peers.sh results.tsv (bench/run.sh writes it to RUN_DIR/results.tsv).

    bench/ratios.py /tmp/bench/results.tsv                       # dfproxy-native against haproxy
    bench/ratios.py /tmp/bench/results.tsv dfproxy-native nginx

For every mode, scenario and connection count: the median requests/s of each side over its repeats, their ratio
(the target: 1.3x HAProxy in A, B, C), the p99 of each side's median run, and its CPU us per request.
"""
import csv
import sys
from collections import defaultdict


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    path = sys.argv[1]
    ours = sys.argv[2] if len(sys.argv) > 2 else "dfproxy-native"
    peer = sys.argv[3] if len(sys.argv) > 3 else "haproxy"
    runs = defaultdict(list)
    for row in csv.DictReader(open(path), delimiter="\t"):
        if row["status"] == "ok":
            runs[(row["proxy"], row["mode"], row["scen"], int(row["conns"]))].append(row)

    def median(key):
        rows = sorted(runs.get(key, []), key=lambda r: float(r["rps"]))
        return rows[len(rows) // 2] if rows else None

    cells = sorted({(m, s, c) for (p, m, s, c) in runs if p == ours}, key=lambda k: (k[0] != "host", k[1], k[2]))
    print(f"| mode | scen | c | {ours} rps | {peer} rps | ratio | p99 ms ({ours} / {peer}) | CPU us/req |")
    print("|---|---|--:|--:|--:|--:|--:|--:|")
    for mode, scen, conns in cells:
        a, b = median((ours, mode, scen, conns)), median((peer, mode, scen, conns))
        if not a or not b:
            continue
        ratio = float(a["rps"]) / float(b["rps"])

        def cpu(r):
            return f"{1e6 * float(r['cpu_s']) / int(r['requests']):.0f}" if r["cpu_s"] not in ("-", "") else "-"
        print(f"| {mode} | {scen} | {conns} | {float(a['rps']):.0f} | {float(b['rps']):.0f} | {ratio:.2f} | "
              f"{int(a['p99_us']) / 1000:.2f} / {int(b['p99_us']) / 1000:.2f} | {cpu(a)} / {cpu(b)} |")


if __name__ == "__main__":
    main()
