#!/usr/bin/env python3
"""Builds the compat matrix from target/compat/results-<target>.tsv files.

Usage: matrix.py OUT_DIR

Reads OUT_DIR/results-fjord.tsv and OUT_DIR/results-kafka.tsv (whichever
exist; rows are suite<TAB>case<TAB>pass|fail|xfail<TAB>message), writes
OUT_DIR/matrix.md and prints it: one row per suite/case, one column per
target, then a count line per target.
"""
import datetime
import os
import sys

TARGETS = ("fjord", "kafka")


def read_results(path):
    rows = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) < 3:
                continue
            suite, case, status = parts[0], parts[1], parts[2]
            message = parts[3] if len(parts) > 3 else ""
            rows.append((suite, case, status, message))
    return rows


def cell(status, message):
    """The markdown cell of one result, and the name of the count it adds to."""
    if status == "pass":
        return "pass", "pass"
    if status == "xfail":
        if message.startswith("unexpected-pass"):
            return "unexpected-pass", "unexpected-pass"
        return "expected-fail", "expected-fail"
    text = "FAIL: " + message if message else "FAIL"
    return text.replace("|", "\\|"), "fail"


def main():
    out_dir = sys.argv[1]
    results = {}
    for target in TARGETS:
        path = os.path.join(out_dir, f"results-{target}.tsv")
        if os.path.exists(path):
            results[target] = read_results(path)

    order = []
    seen = set()
    cells = {t: {} for t in results}
    for target, rows in results.items():
        for suite, case, status, message in rows:
            key = f"{suite}/{case}"
            if key not in seen:
                seen.add(key)
                order.append(key)
            cells[target][key] = cell(status, message)

    def header(target):
        meta = os.path.join(out_dir, f"results-{target}.meta")
        if os.path.exists(meta):
            with open(meta, encoding="utf-8") as f:
                label = f.read().strip()
            if label:
                return f"{target} ({label})"
        return target

    targets = list(results)
    lines = [
        "# fjord compat matrix",
        "",
        f"Generated {datetime.datetime.now().strftime('%Y-%m-%d %H:%M')} by compat/run.",
        "",
    ]
    if not targets:
        lines.append("No results yet.")
    else:
        lines.append("| case | " + " | ".join(header(t) for t in targets) + " |")
        lines.append("|---|" + "---|" * len(targets))
        for key in order:
            row = [cells[t].get(key, ("not run", None))[0] for t in targets]
            lines.append(f"| {key} | " + " | ".join(row) + " |")
        lines.append("")
        for t in targets:
            counts = {"pass": 0, "fail": 0, "expected-fail": 0, "unexpected-pass": 0}
            for _, kind in cells[t].values():
                counts[kind] += 1
            line = (f"**{t}**: {counts['pass']} pass / {counts['fail']} fail / "
                    f"{counts['expected-fail']} expected-fail")
            if counts["unexpected-pass"]:
                line += f" / {counts['unexpected-pass']} unexpected-pass"
            lines.append(line + "  ")
    text = "\n".join(lines) + "\n"
    with open(os.path.join(out_dir, "matrix.md"), "w", encoding="utf-8") as f:
        f.write(text)
    sys.stdout.write(text)


if __name__ == "__main__":
    main()
