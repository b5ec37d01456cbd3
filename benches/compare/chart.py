#!/usr/bin/env python3
"""Bar chart of the fjord/Kafka ratios of target/bench/compare.csv.

Usage: chart.py compare.csv compare.png

One bar per headline metric, on a log scale around 1.0; green where fjord is
better (higher throughput, lower CPU, latency, memory, start-up), red where
it is worse.
"""
import csv
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

# Metrics worth a bar; the rest stay in the table.
HEADLINE = {
    "records/s",
    "broker CPU s per GB",
    "broker CPU s per GB, 3 nodes",
    "end-to-end p99 (µs)",
    "end-to-end p99, read_committed (ms)",
    "idle RSS (MiB)",
    "process start to first Metadata (ms)",
}


def main():
    src, dst = sys.argv[1], sys.argv[2]
    bars = []
    with open(src, newline="") as f:
        for row in csv.DictReader(f):
            if row["metric"] not in HEADLINE or not row["ratio_fjord_over_kafka"]:
                continue
            ratio = float(row["ratio_fjord_over_kafka"])
            higher_is_better = row["higher_is_better"] == "1"
            better = ratio > 1 if higher_is_better else ratio < 1
            bars.append((f"{row['load']}: {row['metric']}", ratio, better))
    if not bars:
        print("chart: no ratios to draw", file=sys.stderr)
        return 1
    fig, ax = plt.subplots(figsize=(10, 0.38 * len(bars) + 1.5))
    labels = [b[0] for b in bars]
    ax.barh(range(len(bars)), [b[1] for b in bars], color=["#2e8b57" if b[2] else "#c0392b" for b in bars])
    ax.set_yticks(range(len(bars)), labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.axvline(1.0, color="black", linewidth=0.8)
    for i, (_, ratio, _) in enumerate(bars):
        ax.text(ratio, i, f" {ratio:.3g}", va="center", fontsize=7)
    ax.set_xlabel("fjord / Kafka (log scale; green = fjord better)")
    ax.set_title("make bench-compare: fjord relative to Apache Kafka")
    fig.tight_layout()
    fig.savefig(dst, dpi=110)
    print(f"chart: wrote {dst}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
