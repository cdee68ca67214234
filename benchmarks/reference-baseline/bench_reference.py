#!/usr/bin/env python3
"""Per-evaluation cost of the reference-style baseline: N distinct masked images, one full forward each
(batch 1, the whole teacher-forced sequence, logits at every position), as the authors' scoring loop runs.

    bench_reference.py --model M --mmproj P --explanation DIR [--n 64] [--threads 2] [--seed 1] [--json]
    bench_reference.py --model M --mmproj P --image I --prompt TEXT --answer TEXT [--n 64] ...

Masks keep each region of the explanation's labels.png with probability 1/2 (or, without an explanation, each
cell of an 8x8 grid). Reports ms per evaluation (mean, median) and its split into the vision encoder (pixels
to image embeddings) and the rest (text decoder, softmax), measured separately on the same images.
"""
import argparse
import json
import sys
import time

import numpy as np
import torch

from task import Task, from_explanation, load_rgb
from torch_vlm import TorchVLM


def grid_labels(h, w, n=8):
    ys, xs = np.arange(h) * n // h, np.arange(w) * n // w
    return ys[:, None] * n + xs[None, :]


def random_masked_images(task, n, seed):
    rng = np.random.default_rng(seed)
    labels = task.labels if task.labels is not None else grid_labels(*task.image.shape[:2])
    ids = np.unique(labels)
    out = []
    for _ in range(n):
        keep = np.isin(labels, ids[rng.random(ids.size) < 0.5])
        out.append((task.image * keep[..., None]).astype(np.uint8))
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--mmproj", required=True)
    ap.add_argument("--explanation", help="eagle explanation folder: image, prompt, answer, targets, regions")
    ap.add_argument("--image")
    ap.add_argument("--prompt", default="describe the image")
    ap.add_argument("--answer", help="answer text (the end-of-turn token is appended; every token is a target)")
    ap.add_argument("--n", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--numerics", choices=("llama", "plain"), default="llama",
                    help="llama: reproduce llama.cpp's f16 roundings (for parity); plain: float32 throughout")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--no-split", action="store_true",
                    help="skip the separate vision-encoder timing (for whole-process timing: N forwards, nothing else)")
    args = ap.parse_args(argv)

    torch.set_num_threads(args.threads)
    model = TorchVLM(args.model, args.mmproj, numerics=args.numerics)
    if args.explanation:
        task = from_explanation(args.explanation)
    else:
        if not args.image or args.answer is None:
            ap.error("give --explanation, or --image and --answer")
        answer = model.tokenizer.encode(args.answer) + [model.tokenizer.eog_id]
        task = Task(load_rgb(args.image), args.prompt, answer, range(len(answer)))
    model.prepare(task.prompt, task.answer_ids, task.target_indices)
    images = random_masked_images(task, args.n, args.seed)

    model.score_one(images[0])  # warm-up: first-call allocations are not per-evaluation cost
    total = []
    for img in images:
        t0 = time.perf_counter()
        model.score_one(img)
        total.append(time.perf_counter() - t0)
    enc = []
    with torch.no_grad():
        for img in ([] if args.no_split else images):
            t0 = time.perf_counter()
            model.encode_image(torch.as_tensor(img).unsqueeze(0))
            enc.append(time.perf_counter() - t0)
    res = {
        "n": args.n, "threads": args.threads, "torch": torch.__version__, "n_params": model.n_params,
        "n_image_tokens": model.n_image_tokens, "n_sequence_tokens": model.n_seq_tokens,
        "n_targets": len(task.target_indices), "gflop_per_eval_floor": model.flop_per_evaluation() / 1e9,
        "ms_per_eval_mean": 1e3 * float(np.mean(total)), "ms_per_eval_median": 1e3 * float(np.median(total)),
        "ms_encode_mean": 1e3 * float(np.mean(enc)) if enc else None,
        "ms_rest_mean": 1e3 * float(np.mean(total) - np.mean(enc)) if enc else None,
    }
    if args.json:
        print(json.dumps(res, indent=1))
    else:
        print(f"{args.n} masked images, {args.threads} threads, torch {torch.__version__}, {model.n_params} params, "
              f"{model.n_seq_tokens} tokens per forward ({model.n_image_tokens} image): "
              f"{res['ms_per_eval_mean']:.2f} ms/eval (median {res['ms_per_eval_median']:.2f}"
              + (f"; vision encoder {res['ms_encode_mean']:.2f}, rest {res['ms_rest_mean']:.2f})" if enc else ")"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
