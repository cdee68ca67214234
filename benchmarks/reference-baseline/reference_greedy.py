#!/usr/bin/env python3
"""Exact EAGLE greedy, reference-style: the plain greedy of the authors' MLLMSubModularExplanationVision as
../shared/method/eagle-reference.md §2.3 states it, written here (not copied), over the PyTorch model of
torch_vlm.py, one masked image per full forward, batch 1, in a Python loop as the authors' code runs it.

    S <- [], base <- 0, U <- V (region masks in id order)
    until U is empty:
        for each u in U: ins_u = p(x * (base + u)), del_u = p(x * (1 - (base + u)))      (2 forwards)
                         F_u = mean_t(l1 * ins_u + l2 * (1 - del_u))
        u* = argmax F (first on ties); S += u*; base += u*; U -= u*
    -> n(n+1) forwards for n regions

Usage (regions, prompt, answer and targets from an eagle explanation, e.g. `eagle explain --search exact`):
    reference_greedy.py --model M --mmproj P --explanation DIR [--threads 2] [--max-steps K] [--out result.json]
Prints the timing and how eagle's ranking (explanation.json "order") compares with this one.
"""
import argparse
import json
import sys
import time

import numpy as np
import torch

from task import from_explanation, region_masks
from torch_vlm import TorchVLM


class ReferenceGreedy:
    """The reference's greedy with its log (insertion/deletion/smdl scores per step, region area)."""

    def __init__(self, model, lambda1=1.0, lambda2=1.0):
        self.model = model
        self.lambda1, self.lambda2 = lambda1, lambda2
        self.forward_s = []  # seconds of every forward, in order

    def generate_masked_input(self, image, mask):
        """Removed pixels black, as the reference: image * mask in uint8 pixel space."""
        return (image.astype(np.float32) * mask).astype(np.uint8)

    def score(self, image):
        t0 = time.perf_counter()
        p = self.model.score_one(image).numpy()
        self.forward_s.append(time.perf_counter() - t0)
        return p

    def evaluation_maximum_sample(self, image, remaining, base):
        ins, dele = [], []
        for u in remaining:
            keep = base + u
            ins.append(self.score(self.generate_masked_input(image, keep)))
            dele.append(self.score(self.generate_masked_input(image, 1.0 - keep)))
        ins, dele = np.stack(ins), np.stack(dele)
        smdl = (self.lambda1 * ins + self.lambda2 * (1.0 - dele)).mean(-1)
        best = int(np.argmax(smdl))  # first index on ties, as torch/numpy argmax
        return best, ins[best], dele[best], smdl[best], smdl

    def __call__(self, image, masks, max_steps=None):
        remaining = list(range(len(masks)))
        base = np.zeros_like(masks[0])
        order, log = [], {k: [] for k in ("insertion_score", "deletion_score", "smdl_score", "insertion_word_score",
                                           "deletion_word_score", "region_area", "runner_up_gap")}
        h, w = image.shape[:2]
        while remaining and (max_steps is None or len(order) < max_steps):
            best, ins, dele, f, smdl = self.evaluation_maximum_sample(image, [masks[i] for i in remaining], base)
            rest = np.delete(smdl, best)
            log["runner_up_gap"].append(float(f - rest.max()) if rest.size else None)  # how close a tie was
            u = remaining.pop(best)
            order.append(u)
            base = base + masks[u]
            log["insertion_score"].append(float(ins.mean()))
            log["insertion_word_score"].append(ins.tolist())
            log["deletion_score"].append(float(dele.mean()))
            log["deletion_word_score"].append(dele.tolist())
            log["smdl_score"].append(float(f))
            log["region_area"].append(float(base.sum() / (h * w)))
        return order, log


def compare_orders(ours, eagle):
    n = min(len(ours), len(eagle))
    first_diff = next((k for k in range(n) if ours[k] != eagle[k]), None)
    return {"n_compared": n, "identical": first_diff is None, "first_difference_at": first_diff}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--mmproj", required=True)
    ap.add_argument("--explanation", required=True, help="eagle explanation folder (labels.png, explanation.json)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--max-steps", type=int, default=None, help="stop after K greedy steps (a partial ranking)")
    ap.add_argument("--numerics", choices=("llama", "plain"), default="llama",
                    help="llama: reproduce llama.cpp's f16 roundings (for parity); plain: float32 throughout")
    ap.add_argument("--out", help="write the ranking, log and timings here (JSON)")
    args = ap.parse_args(argv)

    torch.set_num_threads(args.threads)
    model = TorchVLM(args.model, args.mmproj, numerics=args.numerics)
    task = from_explanation(args.explanation)
    model.prepare(task.prompt, task.answer_ids, task.target_indices)
    masks, ids = region_masks(task.labels)

    greedy = ReferenceGreedy(model)
    t0 = time.perf_counter()
    idx_order, log = greedy(task.image, masks, args.max_steps)
    wall = time.perf_counter() - t0
    order = [ids[i] for i in idx_order]

    n, f = len(masks), greedy.forward_s
    eagle = task.eagle or {}
    eagle_order = list(eagle.get("order", []))
    result = {
        "n_regions": n, "n_steps": len(order), "n_forwards": len(f), "wall_s": wall,
        "ms_per_forward_mean": 1e3 * float(np.mean(f)), "ms_per_forward_median": 1e3 * float(np.median(f)),
        "threads": args.threads, "torch": torch.__version__, "n_params": model.n_params,
        "n_sequence_tokens": model.n_seq_tokens, "order": order,
        "eagle_order": eagle_order, "agreement": compare_orders(order, eagle_order),
        "eagle_search": (eagle.get("search") or {}).get("mode"), "log": log,
    }
    # where the orders part, how close the two candidates were in the reference's own F
    fd = result["agreement"]["first_difference_at"]
    if fd is not None:
        result["agreement"]["runner_up_gap_at_difference"] = log["runner_up_gap"][fd]
    # per-step parity of the logged curves against eagle's, over the common prefix of identical steps
    if eagle.get("smdl_score") and order:
        k = fd if fd is not None else result["agreement"]["n_compared"]
        if k > 0:
            result["agreement"]["max_abs_diff_smdl"] = float(np.max(np.abs(
                np.array(log["smdl_score"][:k]) - np.array(eagle["smdl_score"][:k]))))
            result["agreement"]["max_abs_diff_insertion_word"] = float(np.max(np.abs(
                np.array(log["insertion_word_score"][:k]) - np.array(eagle["insertion_word_score"][:k]))))
    if args.out:
        with open(args.out, "w") as fo:
            json.dump(result, fo, indent=1)
    print(f"regions {n}, steps {len(order)}, forwards {len(f)}, wall {wall:.2f} s, "
          f"{result['ms_per_forward_mean']:.2f} ms/forward (median {result['ms_per_forward_median']:.2f}), "
          f"{args.threads} threads, {model.n_seq_tokens} tokens per forward")
    print("ranking vs eagle (%s): %s" % (result["eagle_search"], json.dumps(result["agreement"])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
