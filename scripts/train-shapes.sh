#!/usr/bin/env bash
# Retrain the ShapesWorld model (the embedded default model) end to end, deterministically for a seed:
#   scripts/train-shapes.sh [--seed N] [--steps N] [--out DIR]
# 1. installs libtorch-dev (and OpenBLAS: Debian's libtorch calls the system BLAS, and the reference libblas
#    makes training ~13x slower) if missing; 2. builds; 3. trains with libtorch on 2 threads; 4. exports the
#    GGUF pair and the parity reference; 5. evaluates the pair through llama.cpp on 500 held-out scenes
#    (seed 2) and 300 bias-probe scenes.
# Default --out is models/ (the committed model); the evaluation report goes to DIR/shapesworld-eval.json.
# See docs/shapesworld.md.
set -euo pipefail

seed=1
steps=5500
out=models
while [[ $# -gt 0 ]]; do
    case "$1" in
        --seed)  seed="$2"; shift 2 ;;
        --steps) steps="$2"; shift 2 ;;
        --out)   out="$2"; shift 2 ;;
        -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
        *) echo "train-shapes.sh: unknown option '$1' (see --help)" >&2; exit 1 ;;
    esac
done

root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
t_start=$(date +%s)

# 1. dependencies
missing=()
dpkg -s libtorch-dev >/dev/null 2>&1 || missing+=(libtorch-dev)
dpkg -s libopenblas0-openmp >/dev/null 2>&1 || dpkg -s libopenblas0-pthread >/dev/null 2>&1 || missing+=(libopenblas0-openmp)
if [[ ${#missing[@]} -gt 0 ]]; then
    echo "train-shapes.sh: installing ${missing[*]}" >&2
    sudo_cmd=()
    [[ $(id -u) -ne 0 ]] && sudo_cmd=(sudo)
    "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >&2
fi

# 2. build (the llama.cpp prefix first, if this checkout has none yet)
if [[ ! -f .cache/llama-sid/.eagle-provisioned ]]; then
    scripts/provision-llama.sh
fi
cmake --preset default >/dev/null
cmake --build build -j2 --target eagle eagle-train-shapes eagle-export-shapes eagle-eval-shapes
bin=build/bin
work=build/shapesworld-train
mkdir -p "$work" "$out/shapesworld-parity"

# 3. train. 2 threads (results depend on the thread count, so it is fixed); passive OpenMP waiting keeps
#    the threads from spinning against other processes on a busy 2-core machine.
"$bin/eagle-export-shapes" vocab --out "$work/tokens.txt"
OMP_WAIT_POLICY=PASSIVE "$bin/eagle-train-shapes" --tokens "$work/tokens.txt" --out "$work" \
    --seed "$seed" --steps "$steps" --threads 2
t_trained=$(date +%s)

# 4. export
"$bin/eagle-export-shapes" gguf --weights "$work/shapesworld-weights.bin" \
    --model "$out/shapesworld-model.gguf" --mmproj "$out/shapesworld-mmproj.gguf"
rm -f "$out"/shapesworld-parity/*
cp "$work"/parity/* "$out/shapesworld-parity/"

# 5. evaluate through llama.cpp
"$bin/eagle-eval-shapes" --model "$out/shapesworld-model.gguf" --mmproj "$out/shapesworld-mmproj.gguf" \
    --seed 2 --n 500 --n-probe 300 > "$out/shapesworld-eval.json"
t_end=$(date +%s)

echo "train-shapes.sh: trained in $((t_trained - t_start)) s (build included), total $((t_end - t_start)) s" >&2
echo "train-shapes.sh: model in $out/, evaluation in $out/shapesworld-eval.json" >&2
