#!/usr/bin/env python3
"""Parity of the PyTorch baseline with eagle (llama.cpp): the same masked images scored by `eagle score` and
by torch_vlm.py; prints the largest |p_eagle - p_torch| over every image and answer token.

    check_parity.py --eagle build/bin/eagle --model M --mmproj P --image I --prompt TEXT --answer TEXT
                    [--n 16] [--seed 1] [--threads 2] [--tol 1e-4]

Images: the full image, the black image, and N-2 random subsets of an 8x8 grid. The answer is tokenized by
both sides and the ids must agree (eagle prints its own); the end-of-turn token is appended. Exit status 1 when
the ids differ or the difference exceeds --tol.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch
from PIL import Image

from bench_reference import grid_labels
from task import load_rgb
from torch_vlm import TorchVLM


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--eagle", required=True, help="the eagle executable")
    ap.add_argument("--model", required=True)
    ap.add_argument("--mmproj", required=True)
    ap.add_argument("--image", required=True)
    ap.add_argument("--prompt", default="describe the image")
    ap.add_argument("--answer", required=True)
    ap.add_argument("--n", type=int, default=16)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--numerics", choices=("llama", "plain"), default="llama",
                    help="llama: reproduce llama.cpp's f16 roundings (for parity); plain: float32 throughout")
    ap.add_argument("--tol", type=float, default=1e-4)
    args = ap.parse_args(argv)

    torch.set_num_threads(args.threads)
    image = load_rgb(args.image)
    h, w = image.shape[:2]
    labels = grid_labels(h, w)
    rng = np.random.default_rng(args.seed)
    keeps = [np.zeros((h, w), bool)] + [np.isin(labels, np.flatnonzero(rng.random(64) < 0.5))
                                         for _ in range(max(0, args.n - 2))]
    with tempfile.TemporaryDirectory(prefix="eagle-parity-") as tmp:
        cmd = [args.eagle, "score", "--model", args.model, "--mmproj", args.mmproj, "--image", args.image,
               "--prompt", args.prompt, "--answer", args.answer, "--eog", "--threads", str(args.threads), "--json"]
        for i, keep in enumerate(keeps):
            path = os.path.join(tmp, f"mask-{i:03d}.png")
            Image.fromarray(keep.astype(np.uint8) * 255).save(path)
            cmd += ["--mask", path]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    got = json.loads(out)
    eagle_ids = [t["id"] for t in got["tokens"]]
    p_eagle = np.array(got["scores"], dtype=np.float64)  # row 0: the full image, then the masks

    model = TorchVLM(args.model, args.mmproj, numerics=args.numerics)
    ids = model.tokenizer.encode(args.answer) + [model.tokenizer.eog_id]
    if ids != eagle_ids:
        print(f"answer ids differ: torch {ids}, eagle {eagle_ids}")
        return 1
    model.prepare(args.prompt, ids)
    images = [image] + [(image * k[..., None]).astype(np.uint8) for k in keeps]
    p_torch = np.stack([model.score_one(img).numpy() for img in images])
    diff = np.abs(p_torch - p_eagle)
    worst = np.unravel_index(np.argmax(diff), diff.shape)
    print(f"{os.path.basename(args.model)}: {len(images)} images x {len(ids)} tokens, max |dp| = {diff.max():.3e} "
          f"(image {worst[0]}, token {worst[1]}: eagle {p_eagle[worst]:.6f}, torch {p_torch[worst]:.6f}), "
          f"mean |dp| = {diff.mean():.3e}, tol {args.tol:g}")
    return 0 if diff.max() <= args.tol else 1


if __name__ == "__main__":
    sys.exit(main())
