#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""dfproxy / peer tables from a run-peers.sh results.tsv (bench/run.sh writes it to RUN_DIR/results.tsv).

    bench/ratios.py /tmp/bench/results.tsv                       # dfproxy-native against haproxy
    bench/ratios.py /tmp/bench/results.tsv dfproxy-native nginx

For every mode, scenario and connection count: the median requests/s of each side over its repeats, their ratio
(the target: 1.3x HAProxy in A, B, C), the p99 of each side's median run, its CPU us per request, and the ratio of
those (peer's CPU per request over ours: what the requests/s ratio would be if each proxy had a core of its own,
since on a shared machine the client and the origin take their share of the CPU too), with the origin's own
requests/s ("direct", the ceiling of the cell). A last line counts the cells that meet each target.
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
    print(f"| mode | scen | c | direct rps | {ours} rps | {peer} rps | ratio | p99 ms ({ours} / {peer}) "
          f"| CPU us/req | CPU ratio |")
    print("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|")

    def cpu(r):
        return 1e6 * float(r["cpu_s"]) / int(r["requests"]) if r["cpu_s"] not in ("-", "") else None

    n = fast = p99 = cheaper = 0
    for mode, scen, conns in cells:
        a, b = median((ours, mode, scen, conns)), median((peer, mode, scen, conns))
        if not a or not b:
            continue
        d = median(("direct", mode, scen, conns)) or median(("direct", "host", scen, conns))
        ratio = float(a["rps"]) / float(b["rps"])
        ca, cb = cpu(a), cpu(b)
        n += 1
        fast += ratio >= 1.3
        p99 += int(a["p99_us"]) <= int(b["p99_us"])
        cheaper += bool(ca and cb and ca < cb)
        cpus = f"{ca:.0f} / {cb:.0f}" if ca and cb else "-"
        cpu_ratio = f"{cb / ca:.2f}" if ca and cb else "-"
        print(f"| {mode} | {scen} | {conns} | {float(d['rps']):.0f} | {float(a['rps']):.0f} | {float(b['rps']):.0f} "
              f"| {ratio:.2f} | {int(a['p99_us']) / 1000:.2f} / {int(b['p99_us']) / 1000:.2f} | {cpus} | {cpu_ratio} |"
              if d else
              f"| {mode} | {scen} | {conns} | - | {float(a['rps']):.0f} | {float(b['rps']):.0f} "
              f"| {ratio:.2f} | {int(a['p99_us']) / 1000:.2f} / {int(b['p99_us']) / 1000:.2f} | {cpus} | {cpu_ratio} |")
    print(f"\nOf {n} cells: requests/s >= 1.3x {peer} in {fast}, p99 no worse in {p99}, "
          f"CPU per request lower in {cheaper}.")


if __name__ == "__main__":
    main()
