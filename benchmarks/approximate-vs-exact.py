#!/usr/bin/env python3
"""How far the openai engine's approximate explanations (top-k log-probabilities, one call per target and masked
image) are from the exact ones, on the default ShapesWorld model (BENCHMARKS.md, "Approximate engine").

For each image, three `eagle explain` runs with the same regions and search, the end token not a target:
  exact        the in-process llama.cpp engine, eagle's prompt (what a user compares against);
  exact-chat   the in-process engine fed the very sequence llama-server's /v1/chat/completions feeds (its chat
               template, the image joined to the text without a newline), as --prompt-ids: the difference from
               it is the top-k approximation alone;
  approximate  --server URL --server-api openai against a running llama-server.
All three explain the answer the exact run generated. Prints a JSON line per image and pair, and a table.

Usage: approximate-vs-exact.py EAGLE SERVER_URL OUT_DIR IMAGE... [--grid 4x4] [--top-logprobs 20]"""
import argparse
import json
import os
import subprocess
import sys
import time
import urllib.request


def post(url, path, body):
    req = urllib.request.Request(url + path, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    return json.load(urllib.request.urlopen(req))


def chat_prompt_ids(url, prompt, placeholder=7):
    """The token ids llama-server's chat endpoint feeds for one user turn [image, prompt]."""
    cut = "@@EAGLE-IMAGE@@"
    text = post(url, "/apply-template", {"messages": [{"role": "user", "content": cut + prompt}]})["prompt"]
    before, after = text.split(cut)
    ids = post(url, "/tokenize", {"content": before, "add_special": True, "parse_special": True})["tokens"]
    ids += [placeholder] * 4
    ids += post(url, "/tokenize", {"content": after, "add_special": False, "parse_special": True})["tokens"]
    return " ".join(str(i) for i in ids), placeholder


def explain(eagle, out, image, grid, extra):
    cmd = [eagle, "explain", "-q", "-i", image, "--segmenter", "grid", "--grid", grid, "--no-eog", "-o", out] + extra
    t0 = time.time()
    subprocess.run(cmd, check=True)
    seconds = time.time() - t0
    with open(os.path.join(out, "explanation.json")) as f:
        return json.load(f), seconds


def auc(curve):
    """Trapezoidal area under a curve sampled at 0, 1/n, ..., 1 of the regions."""
    n = len(curve) - 1
    return sum((curve[i] + curve[i + 1]) / 2 for i in range(n)) / n if n > 0 else 0.0


def ranks(order):
    r = [0] * len(order)
    for position, region in enumerate(order):
        r[region] = position
    return r


def spearman(a, b):
    ra, rb = ranks(a), ranks(b)
    n = len(ra)
    return 1 - 6 * sum((x - y) ** 2 for x, y in zip(ra, rb)) / (n * (n * n - 1))


def compare(ref, other):
    curves = ["insertion_score", "deletion_score"]
    return {
        "same_answer": ref["answer"] == other["answer"],
        "top1_same": ref["order"][0] == other["order"][0],
        "top3_overlap": len(set(ref["order"][:3]) & set(other["order"][:3])),
        "spearman": round(spearman(ref["order"], other["order"]), 4),
        "d_insertion_auc": round(auc(other["insertion_score"]) - auc(ref["insertion_score"]), 4),
        "d_deletion_auc": round(auc(other["deletion_score"]) - auc(ref["deletion_score"]), 4),
        "max_dp_full_image": round(max(abs(x - y) for x, y in zip(ref["org_score"], other["org_score"])), 5),
        "max_dp_curves": round(max(abs(x - y) for c in curves for x, y in zip(ref[c], other[c])), 5),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("eagle")
    ap.add_argument("server")
    ap.add_argument("out")
    ap.add_argument("images", nargs="+")
    ap.add_argument("--grid", default="4x4")
    ap.add_argument("--top-logprobs", default="20")
    ap.add_argument("--prompt", default="describe the image")
    a = ap.parse_args()
    ids, placeholder = chat_prompt_ids(a.server, a.prompt)
    rows = []
    for image in a.images:
        name = os.path.splitext(os.path.basename(image))[0]
        runs = {}
        runs["exact"] = explain(a.eagle, f"{a.out}/exact-{name}", image, a.grid, ["-p", a.prompt])
        answer = ["--answer", runs["exact"][0]["answer"]] # one answer explained by all three
        runs["exact-chat"] = explain(a.eagle, f"{a.out}/exact-chat-{name}", image, a.grid,
                                     ["--prompt-ids", ids, "--image-token", str(placeholder)] + answer)
        runs["approximate"] = explain(a.eagle, f"{a.out}/approximate-{name}", image, a.grid,
                                      ["-p", a.prompt, "--server", a.server, "--server-api", "openai",
                                       "--top-logprobs", a.top_logprobs] + answer)
        approx, seconds = runs["approximate"]
        for ref in ["exact", "exact-chat"]:
            row = {"image": name, "reference": ref, **compare(runs[ref][0], approx),
                   "calls": approx["run"]["calls"], "n_evaluations": approx["n_evaluations"],
                   "approximate_s": round(seconds, 1), "exact_s": round(runs[ref][1], 1),
                   "answer_exact": runs[ref][0]["answer"], "answer_approximate": approx["answer"]}
            print(json.dumps(row), flush=True)
            rows.append(row)
    print("\n| image | reference | same answer | top-1 same | top-3 overlap | Spearman | Δ ins. AUC | Δ del. AUC | "
          "max Δp full image | max Δp curves | calls |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['image']} | {r['reference']} | {r['same_answer']} | {r['top1_same']} | {r['top3_overlap']}/3 | "
              f"{r['spearman']} | {r['d_insertion_auc']:+.4f} | {r['d_deletion_auc']:+.4f} | {r['max_dp_full_image']} | "
              f"{r['max_dp_curves']} | {r['calls']} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
