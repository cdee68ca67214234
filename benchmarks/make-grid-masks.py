#!/usr/bin/env python3
"""Writes N keep-masks (PNG, 255 = keep) of random 8x8-grid subsets for `eagle score --mask`, the fixed input
of the per-evaluation benchmarks in BENCHMARKS.md. Usage: make-grid-masks.py OUT_DIR [N] [SIDE] [SEED]"""
import os
import sys

import numpy as np
from PIL import Image


def main() -> int:
    if len(sys.argv) < 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    out = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 64
    side = int(sys.argv[3]) if len(sys.argv) > 3 else 128
    seed = int(sys.argv[4]) if len(sys.argv) > 4 else 7
    if side % 8:
        print(f"make-grid-masks: side must be a multiple of 8, got {side}", file=sys.stderr)
        return 2
    rng = np.random.default_rng(seed)
    os.makedirs(out, exist_ok=True)
    cell = np.ones((side // 8, side // 8), dtype=np.uint8)
    for i in range(n):
        grid = (rng.random((8, 8)) < 0.5).astype(np.uint8)
        Image.fromarray(np.kron(grid, cell) * 255).save(os.path.join(out, f"mask-{i:03d}.png"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
