#!/bin/bash
# One command of BENCHMARKS.md's per-evaluation table: N masked images scored by one engine on one model, as a
# whole process (time it with N and with 1: the difference / (N - 1) is the cost of one evaluation).
#
#   benchmarks/per-evaluation.sh ENGINE MODEL N
#     ENGINE  eagle (--no-blas: ggml's own kernels) | eagle-blas (--blas, OpenBLAS on OpenMP) | eagle-q8 /
#             eagle-q8-blas (the same, text model Q8_0): each one team of 2 threads (--workers 1) |
#             eagle-workers / eagle-blas-workers (the same as eagle / eagle-blas with two single-thread workers,
#             --workers 2; eagle-blas-workers is what the defaults give on 2 cores with OpenBLAS-OpenMP) |
#             eagle-blas-workers-unbound (the same, the workers left to the kernel: --no-pin-workers) |
#             eagle-blas-workers-ggml-variant (the same, bound, on the CPU variant ggml picks even where eagle picks
#             another: EAGLE_GGML_CPU_VARIANT=ggml) | eagle-blas-workers-ggml-blas-threads (the same, bound, the
#             encoder's BLAS backends on ggml's default of 4 conversion threads: EAGLE_GGML_BLAS_THREADS=ggml) |
#             eagle-blas-workers-cpu-attention (the same, bound, the attention products on ggml's CPU kernels instead
#             of BLAS: EAGLE_BLAS_ATTENTION=off) |
#             (the eagle-blas engines pass on a variant named in EAGLE_GGML_CPU_VARIANT, e.g. zen4 or alderlake) |
#             torch (the reference-style baseline,
#             benchmarks/reference-baseline, float32, OpenBLAS on OpenMP: its fastest setting here) |
#             torch-pthread (the same on OpenBLAS's pthreads, as the table of commit a17d6ad ran it: its threads and
#             torch's OpenMP threads spin against each other on 2 cores)
#     MODEL   sw (the embedded ShapesWorld model) | 28m | 256m (random LLaVA-style pairs, written once into
#             .cache/reference-baseline by eagle-make-fixture; their Q8_0 text models by llama-quantize)
#
# With EAGLE_BENCH_JSON=1 each prints its own per-evaluation timings as JSON instead (eagle: the run's stats,
# t_score_us / n_evaluations; torch: ms_per_eval_mean): benchmarks/per-evaluation-table.py reads them.
#
# Needs build/bin/eagle, python3-torch, libopenblas0-openmp and libopenblas0-pthread (apt-get install
# python3-torch libopenblas0-openmp libopenblas0-pthread; the system's libblas.so.3 alternative is left as it
# is: OpenBLAS is picked per process).
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
C=$root/.cache/reference-baseline
OB=/usr/lib/x86_64-linux-gnu/openblas-openmp OBP=/usr/lib/x86_64-linux-gnu/openblas-pthread
json=(); tjson=(--no-split)
[ "${EAGLE_BENCH_JSON:-0}" = 1 ] && json=(--json) tjson=(--json)
engine=$1 model=$2 n=$3
B=${EAGLE_BIN_DIR:-$root/build/bin} # another build to compare: EAGLE_BIN_DIR=/path/to/its/bin
P=$root/.cache/llama-sid L=$root/.cache/llama-sid/usr/lib/x86_64-linux-gnu
quantize() { [ -f "$2" ] || "$L/ld-linux-x86-64.so.2" --library-path "$L:$L/llama" "$P/usr/bin/llama-quantize" "$1" "$2" Q8_0 >/dev/null 2>&1; }
fixture() { # dir, options
    local dir=$1; shift
    [ -f "$dir/fixture-model.gguf" ] || "$B/eagle-make-fixture" --out "$dir" "$@" >/dev/null
}
case $model in
  sw)   M=$root/models/shapesworld-model.gguf; Pj=$root/models/shapesworld-mmproj.gguf
        I=$root/data/samples/shapesworld/000002.png; S=128; A="a red circle , a yellow square and a green triangle ." ;;
  28m)  fixture "$C/fixture-28m" --seed 3 --n-embd 512 --n-layer 8 --n-head 8 --n-ff 1536 --vision-n-embd 256 \
            --vision-n-layer 4 --vision-n-ff 1024 --image-size 224 --patch-size 16 --scale 1
        M=$C/fixture-28m/fixture-model.gguf; Pj=$C/fixture-28m/fixture-mmproj.gguf
        I=$C/scenes-224/000000.png; S=224; A="there is a red circle and a blue square on the left ." ;;
  256m) fixture "$C/fixture-256m" --seed 5 --n-embd 576 --n-layer 30 --n-head 9 --n-head-kv 3 --n-ff 1536 \
            --n-vocab 49152 --vision-n-embd 768 --vision-n-layer 12 --vision-n-head 12 --vision-n-ff 3072 \
            --image-size 512 --patch-size 32 --scale 1
        M=$C/fixture-256m/fixture-model.gguf; Pj=$C/fixture-256m/fixture-mmproj.gguf
        I=$C/scenes-512/000000.png; S=512; A="there is a red circle and a blue square on the left ." ;;
  *) echo "per-evaluation: unknown model '$model' (sw, 28m, 256m)" >&2; exit 2 ;;
esac
[ -f "$I" ] || "$B/eagle" shapes --n 1 --seed 7 --size "$S" --out "$(dirname "$I")" >/dev/null
masks_dir=$C/masks-$S
[ -d "$masks_dir" ] || /usr/bin/python3 "$root/benchmarks/make-grid-masks.py" "$masks_dir" 64 "$S" >/dev/null
masks=("$masks_dir"/*.png); masks=("${masks[@]:0:$n}")
Q=$C/q8/$(basename "$M" .gguf)-$model-q8_0.gguf
case $engine in
  eagle|eagle-workers)
              w=1; [ "$engine" = eagle ] || w=2
              exec "$B/eagle" score -m "$M" --mmproj "$Pj" -i "$I" --answer "$A" --eog -t 2 --workers $w -q --no-blas \
                  "${json[@]}" --mask "${masks[@]}" ;;
  eagle-q8)   mkdir -p "$C/q8"; quantize "$M" "$Q"
              exec "$B/eagle" score -m "$Q" --mmproj "$Pj" -i "$I" --answer "$A" --eog -t 2 --workers 1 -q --no-blas "${json[@]}" \
                  --mask "${masks[@]}" ;;
  eagle-blas|eagle-blas-workers|eagle-blas-workers-unbound|eagle-blas-workers-ggml-variant|eagle-blas-workers-ggml-blas-threads|eagle-blas-workers-cpu-attention)
              w=1 bind=() variant=${EAGLE_GGML_CPU_VARIANT:-auto} blas_threads=eagle attention=blas; [ "$engine" = eagle-blas ] || w=2
              [ "$engine" = eagle-blas-workers-unbound ] && bind=(--no-pin-workers)
              [ "$engine" = eagle-blas-workers-ggml-variant ] && variant=ggml
              [ "$engine" = eagle-blas-workers-ggml-blas-threads ] && blas_threads=ggml
              [ "$engine" = eagle-blas-workers-cpu-attention ] && attention=off
              EAGLE_BLAS_ATTENTION=$attention EAGLE_GGML_CPU_VARIANT=$variant EAGLE_GGML_BLAS_THREADS=$blas_threads LD_LIBRARY_PATH=$OB exec "$B/eagle" score -m "$M" --mmproj "$Pj" -i "$I" --answer "$A" --eog -t 2 --workers $w -q --blas \
                  "${bind[@]}" "${json[@]}" --mask "${masks[@]}" ;;
  eagle-q8-blas) mkdir -p "$C/q8"; quantize "$M" "$Q"
              LD_LIBRARY_PATH=$OB exec "$B/eagle" score -m "$Q" --mmproj "$Pj" -i "$I" --answer "$A" --eog -t 2 --workers 1 -q --blas \
                  "${json[@]}" --mask "${masks[@]}" ;;
  torch|torch-pthread)
              [ "$engine" = torch ] || OB=$OBP
              LD_LIBRARY_PATH=$OB${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} exec /usr/bin/python3 "$root/benchmarks/reference-baseline/bench_reference.py" \
                  --model "$M" --mmproj "$Pj" --image "$I" --answer "$A" --n "$n" --threads 2 --numerics plain "${tjson[@]}" ;;
  *) echo "per-evaluation: unknown engine '$engine' (eagle, eagle-workers, eagle-blas, eagle-blas-workers, eagle-blas-workers-unbound, eagle-blas-workers-ggml-variant, eagle-blas-workers-ggml-blas-threads, eagle-blas-workers-cpu-attention, eagle-q8, eagle-q8-blas, torch, torch-pthread)" >&2; exit 2 ;;
esac
