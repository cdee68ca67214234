#!/usr/bin/env python3
"""The machine's float32 matrix-product throughput, for the FLOP floor of BENCHMARKS.md's per-evaluation table:
GFLOP/s of torch.matmul (OpenBLAS sgemm when libopenblas0-pthread provides libblas.so.3) on M x K by K x N
products of the sizes a scorer runs, best of R repeats after a warm-up.

    matmul-throughput.py [--threads 2] [--repeats 10]
"""
import argparse
import time

import torch

SHAPES = [(256, 576, 1536), (512, 2048, 2048), (1024, 4096, 4096)]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=10)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    for m, k, n in SHAPES:
        a, b = torch.randn(m, k), torch.randn(k, n)
        a @ b
        best = min(_timed(lambda: a @ b) for _ in range(args.repeats))
        print(f"{m}x{k} @ {k}x{n}: {2 * m * k * n / best / 1e9:.1f} GFLOP/s ({args.threads} threads, best of {args.repeats})")


def _timed(f):
    t0 = time.perf_counter()
    f()
    return time.perf_counter() - t0


if __name__ == "__main__":
    main()
