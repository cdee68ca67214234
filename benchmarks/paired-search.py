#!/usr/bin/env python3
"""Paired comparison of a search against the exact greedy on the same explanations (issue 11, goal 3).

    benchmarks/paired-search.py --eagle build/bin/eagle --baseline DIR_A --candidate DIR_B [--label NAME] [--exclude a,b]

DIR_A and DIR_B hold one explanation folder per sample with the same folder names (as `eagle bench shapes`
writes them: OUT/<task>/<method>/<scene>). The AUCs come from `eagle eval --json --per-sample` (the project's
metric code), the evaluation counts from each explanation.json. Prints one markdown row: n, the mean AUCs,
the candidate/exact ratios of the mean insertion AUC, mean deletion AUC and total evaluations, each with a
95% paired bootstrap interval (scenes resampled together, 10,000 resamples, fixed seed).
"""
import argparse
import json
import os
import random
import subprocess
import sys


def per_sample(eagle, folder):
    out = subprocess.run([eagle, "eval", "--json", "--per-sample", folder], check=True, capture_output=True, text=True)
    rows = {}
    for s in json.loads(out.stdout)["samples"]:
        name = os.path.basename(os.path.normpath(s["source"]))
        with open(os.path.join(folder, name, "explanation.json")) as f:
            n_evaluations = json.load(f)["n_evaluations"]
        rows[name] = (s["insertion_auc"], s["deletion_auc"], n_evaluations)
    return rows


def ratio_of_sums(pairs, index):
    return sum(c[index] for _, c in pairs) / sum(a[index] for a, _ in pairs)


def bootstrap_interval(pairs, index, n_resamples=10000, seed=11):
    rng = random.Random(seed)
    ratios = []
    for _ in range(n_resamples):
        sample = [pairs[rng.randrange(len(pairs))] for _ in pairs]
        ratios.append(ratio_of_sums(sample, index))
    ratios.sort()
    return ratios[int(0.025 * n_resamples)], ratios[int(0.975 * n_resamples) - 1]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--eagle", required=True)
    ap.add_argument("--baseline", required=True, help="folder of exact-greedy explanations")
    ap.add_argument("--candidate", required=True, help="folder of the candidate's explanations (same sample names)")
    ap.add_argument("--label", default="candidate")
    ap.add_argument("--header", action="store_true", help="print the table header first")
    ap.add_argument("--exclude", default="", help="comma-separated sample names left out (e.g. the scenes a setting was tuned on)")
    args = ap.parse_args()
    base, cand = per_sample(args.eagle, args.baseline), per_sample(args.eagle, args.candidate)
    names = sorted((set(base) & set(cand)) - set(filter(None, args.exclude.split(","))))
    if not names:
        sys.exit("paired-search: no sample folder is in both " + args.baseline + " and " + args.candidate)
    pairs = [(base[k], cand[k]) for k in names]
    if args.header:
        print("| search | n | ins. AUC exact | ins. AUC search | ins. ratio [95% CI] | del. AUC exact | del. AUC search"
              " | del. ratio [95% CI] | evaluations / explanation (exact → search) | eval. ratio [95% CI] |")
        print("|---|---:|---:|---:|---|---:|---:|---|---|---|")
    cells = [args.label, str(len(pairs))]
    for index in (0, 1):
        mean_a = sum(a[index] for a, _ in pairs) / len(pairs)
        mean_c = sum(c[index] for _, c in pairs) / len(pairs)
        lo, hi = bootstrap_interval(pairs, index)
        cells += [f"{mean_a:.4f}", f"{mean_c:.4f}", f"{ratio_of_sums(pairs, index):.4f} [{lo:.4f}, {hi:.4f}]"]
    lo, hi = bootstrap_interval(pairs, 2)
    cells += [f"{sum(a[2] for a, _ in pairs) / len(pairs):.0f} → {sum(c[2] for _, c in pairs) / len(pairs):.0f}",
              f"{ratio_of_sums(pairs, 2):.3f} [{lo:.3f}, {hi:.3f}]"]
    print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
