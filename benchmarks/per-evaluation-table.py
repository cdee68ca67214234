#!/usr/bin/env python3
"""BENCHMARKS.md's per-evaluation table in one run: every engine of benchmarks/per-evaluation.sh on each model,
in rounds (every engine once per round, in turn, so a slow phase of the machine hits all of them), each engine's
own per-evaluation timing (eagle: t_score_us / n_evaluations of its run's stats; the baseline: its mean ms per
forward), the median over the rounds; the ratios against the reference-style baseline and against the floor
(the evaluation's arithmetic at the machine's measured matrix-product throughput).

    benchmarks/per-evaluation-table.py [--rounds 3] [--gflops 167] [--models sw:64,28m:16,256m:6] [--engines a,b,...]

An engine's name + "+openblas-own" (e.g. torch+openblas-own) runs it on OpenBLAS's own kernel choice: without
OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE, which some machines set (here: Haswell's kernels on a Zen 4).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ALL_ENGINES = ["torch", "torch-pthread", "eagle", "eagle-workers", "eagle-blas", "eagle-blas-workers",
               "eagle-blas-workers-unbound", "eagle-blas-workers-ggml-variant",
               "eagle-blas-workers-ggml-blas-threads", "eagle-blas-workers-cpu-attention", "eagle-q8", "eagle-q8-blas"]
ENGINES = ALL_ENGINES


# An engine named with this suffix runs without OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE, on the kernels OpenBLAS picks
# for the processor itself, where the machine's environment forces others (some machines here set Haswell's)
OWN_KERNEL = "+openblas-own"


def run(engine, model, n):
    env = dict(os.environ, EAGLE_BENCH_JSON="1")
    if engine.endswith(OWN_KERNEL):
        engine = engine[:-len(OWN_KERNEL)]
        env.pop("OPENBLAS_CORETYPE", None)
        env.pop("OPENBLAS_L2_SIZE", None)
    out = subprocess.run(["bash", os.path.join(ROOT, "benchmarks/per-evaluation.sh"), engine, model, str(n)],
                         env=env, check=True, capture_output=True, text=True).stdout
    data = json.loads(out)
    if engine.startswith("torch"):
        return {"ms": data["ms_per_eval_mean"], "encode": data["ms_encode_mean"], "gflop": data["gflop_per_eval_floor"]}
    s = data["stats"]
    n_eval = s["n_evaluations"]
    return {"ms": s["t_score_us"] / n_eval / 1e3, "encode": s["t_encode_us"] / n_eval / 1e3}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--gflops", type=float, default=167.0, help="measured float32 matrix-product GFLOP/s")
    ap.add_argument("--models", default="sw:64,28m:16,256m:6", help="model:masks, comma-separated")
    ap.add_argument("--engines", default=",".join(ALL_ENGINES), help="engines of per-evaluation.sh, comma-separated "
                    "(torch first: the ratios are against it)")
    args = ap.parse_args()
    global ENGINES
    ENGINES = args.engines.split(",")
    if ENGINES[0] != "torch" or any(e.removesuffix(OWN_KERNEL) not in ALL_ENGINES for e in ENGINES):
        ap.error(f"--engines: torch first, then any of {', '.join(ALL_ENGINES[1:])}, each also with {OWN_KERNEL} "
                 "(OpenBLAS's own kernel choice: the ratio then against torch" + OWN_KERNEL + " where it runs)")

    rows = []
    for spec in args.models.split(","):
        model, n = spec.split(":")
        runs = {e: [] for e in ENGINES}
        for r in range(args.rounds):
            for e in ENGINES:
                runs[e].append(run(e, model, int(n)))
                print(f"{model} round {r + 1} {e}: {runs[e][-1]['ms']:.2f} ms", file=sys.stderr, flush=True)
        med = {e: statistics.median(x["ms"] for x in runs[e]) for e in ENGINES}
        enc = {e: statistics.median(x["encode"] for x in runs[e]) for e in ENGINES}
        gflop = runs["torch"][0]["gflop"]
        rows.append((model, n, gflop, med, enc))

    base = "torch"
    print(f"| model | GFLOP / eval. | floor | " + " | ".join(ENGINES) + " |")
    print("|---|---:|---:|" + "---:|" * len(ENGINES))
    for model, n, gflop, med, enc in rows:
        floor = gflop / args.gflops * 1e3
        cells = []
        for e in ENGINES:
            own_base = base + OWN_KERNEL
            ratio = med[e] / med[own_base if e.endswith(OWN_KERNEL) and own_base in med else base]
            # the workers' encoder times add up over both workers: CPU time, not a share of the wall time
            enc_label = "enc. summed" if "-workers" in e else "enc."
            cells.append(f"{med[e]:.1f} ms ({enc_label} {enc[e]:.1f}; {ratio:.2f}x)")
        print(f"| {model} ({n} masks) | {gflop:.2f} | {floor:.1f} ms | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
