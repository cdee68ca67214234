#!/usr/bin/env python3
"""Makes recorded-scores.json: a table of per-target probabilities for every subset of 6 regions, and the
ranking and log that the EAGLE reference greedy (MLLMSubModularExplanationVision, eagle-reference.md §2.3)
produces on it. Written to mirror the reference loop step by step (python lists, first index on ties),
independently of eagle.cpp, so test-explain checks the C++ search against it.

Rerun: python3 tests/data/reference-greedy.py > tests/data/recorded-scores.json
"""
import json
import random

n_regions, n_targets = 6, 3
rng = random.Random(20250926)
# p(subset visible) per target: a monotone-ish but non-additive table, as a real model gives
weights = [[rng.random() for _ in range(n_regions)] for _ in range(n_targets)]
table = {}
for bits in range(1 << n_regions):
    row = []
    for t in range(n_targets):
        s = sum(weights[t][i] for i in range(n_regions) if bits >> i & 1) / sum(weights[t])
        noise = rng.uniform(-0.05, 0.05)
        pair = 0.15 if (bits & 0b000101) == 0b000101 else 0.0  # regions 0 and 2 only help together
        row.append(min(1.0, max(0.0, 0.05 + 0.8 * s * s + pair + noise)))
    table[bits] = row
table[0] = [0.02, 0.1, 0.05]

lambda1 = lambda2 = 1.0
V = list(range(n_regions))  # V_set, in label order
S, base = [], 0
log = {"insertion_score": [], "deletion_score": [], "smdl_score": [], "insertion_word_score": [],
       "deletion_word_score": [], "region_area": []}
full = (1 << n_regions) - 1
while V:
    ins = [table[base | 1 << u] for u in V]
    dele = [table[full & ~(base | 1 << u)] for u in V]
    smdl = [sum(lambda1 * a + lambda2 * (1 - b) for a, b in zip(i, d)) / n_targets for i, d in zip(ins, dele)]
    best = max(range(len(V)), key=lambda i: (smdl[i], -i))  # argmax, first index on ties
    log["insertion_score"].append(sum(ins[best]) / n_targets)
    log["insertion_word_score"].append(ins[best])
    log["deletion_score"].append(sum(dele[best]) / n_targets)
    log["deletion_word_score"].append(dele[best])
    log["smdl_score"].append(smdl[best])
    S.append(V[best])
    base |= 1 << V[best]
    del V[best]
    log["region_area"].append(bin(base).count("1") / n_regions)  # equal-area regions in the test
log["org_score"] = log["insertion_word_score"][-1]
log["baseline_score"] = log["deletion_word_score"][-1]
print(json.dumps({"n_regions": n_regions, "n_targets": n_targets,
                  "table": [table[b] for b in range(1 << n_regions)],
                  "expected_order": S, "expected_log": log}, indent=1))
