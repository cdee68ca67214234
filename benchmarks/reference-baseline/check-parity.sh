#!/bin/sh
# Parity of the PyTorch reference-style baseline (torch_vlm.py) with eagle (llama.cpp): prints max |dp| over
# masked images x answer tokens on the ShapesWorld model (models/) and on the 28M random model of
# BENCHMARKS.md (written by eagle-make-fixture into .cache/reference-baseline/), and fails above 1e-4.
#
#   benchmarks/reference-baseline/check-parity.sh [N_IMAGES]
#
# Needs build/bin/eagle (scripts/test.sh or a cmake build) and Debian's python3-torch, which is benchmark-only
# and not in scripts/setup.sh:  apt-get install python3-torch
# Environment: EAGLE (the executable), PYTHON (a python3 with numpy, PIL and torch; default /usr/bin/python3),
# THREADS (default 2).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
eagle=${EAGLE:-$root/build/bin/eagle}
python=${PYTHON:-/usr/bin/python3}
threads=${THREADS:-2}
n=${1:-16}
cache=$root/.cache/reference-baseline

[ -x "$eagle" ] || { echo "check-parity: no eagle executable at $eagle (build first, or set EAGLE)" >&2; exit 1; }
"$python" -c 'import torch' 2>/dev/null ||
    { echo "check-parity: $python has no torch (apt-get install python3-torch)" >&2; exit 1; }

# the 28M-parameter random model and a 224 px scene for it (libmtmd would resize other sizes; the baseline
# takes the model's own size)
mkdir -p "$cache"
if [ ! -f "$cache/fixture-28m/fixture-model.gguf" ]; then
    "$(dirname "$eagle")/eagle-make-fixture" --out "$cache/fixture-28m" --seed 3 --n-embd 512 --n-layer 8 \
        --n-head 8 --n-ff 1536 --vision-n-embd 256 --vision-n-layer 4 --vision-n-ff 1024 --image-size 224 \
        --patch-size 16 --scale 1 >/dev/null
fi
if [ ! -f "$cache/scenes-224/000000.png" ]; then
    "$eagle" shapes --n 1 --seed 7 --size 224 --out "$cache/scenes-224" >/dev/null
fi

status=0
cd "$here"
"$python" check_parity.py --eagle "$eagle" --threads "$threads" --n "$n" \
    --model "$root/models/shapesworld-model.gguf" --mmproj "$root/models/shapesworld-mmproj.gguf" \
    --image "$root/data/samples/shapesworld/000002.png" --prompt "describe the image" \
    --answer "a red circle , a yellow square and a green triangle ." || status=1
"$python" check_parity.py --eagle "$eagle" --threads "$threads" --n "$n" \
    --model "$cache/fixture-28m/fixture-model.gguf" --mmproj "$cache/fixture-28m/fixture-mmproj.gguf" \
    --image "$cache/scenes-224/000000.png" --prompt "describe the image" \
    --answer "there is a red circle and a blue square on the left ." || status=1
exit $status
