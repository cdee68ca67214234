#!/usr/bin/env bash
# Builds the libFuzzer targets (cmake --preset fuzz: clang-14, ASan + UBSan; tests/fuzz/) and runs each for
# SECONDS (default 30) from the committed seed corpus tests/fuzz/corpus/<target>/, which it never modifies (new
# inputs go to build-fuzz/corpus/<target>/). A crash, a sanitizer report, a leak or an eagle error that is not an
# eagle::error fails the run; libFuzzer leaves the input as build-fuzz/crash-* (replay: build-fuzz/bin/<target>
# FILE). Prints executions and coverage per target.
#   scripts/fuzz.sh [SECONDS [TARGET...]]      e.g. scripts/fuzz.sh 600 fuzz-npy
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
seconds=${1:-30}
shift || true
all=(fuzz-image-file fuzz-segmenters fuzz-label-files fuzz-npy fuzz-explanation-files fuzz-dataset-record
     fuzz-reference-dataset fuzz-cli-options)
targets=("$@")
((${#targets[@]})) || targets=("${all[@]}")

mkdir -p .cache
if ! cmake --preset fuzz > .cache/configure-fuzz.log 2>&1; then
    cat .cache/configure-fuzz.log >&2
    echo "fuzz: error: configuring the fuzz build failed (log above, also in .cache/configure-fuzz.log)" >&2
    exit 1
fi
cmake --build --preset fuzz -j"$(nproc)"

export ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
status=0
for t in "${targets[@]}"; do
    work=build-fuzz/corpus/$t
    mkdir -p "$work"
    log=build-fuzz/$t.log
    # -rss_limit_mb/-malloc_limit_mb: a single 2 GB allocation is a finding (eagle's size limits should stop it)
    if build-fuzz/bin/"$t" "$work" "tests/fuzz/corpus/$t" -max_total_time="$seconds" -timeout=20 \
           -rss_limit_mb=2560 -malloc_limit_mb=2048 -print_final_stats=1 -artifact_prefix=build-fuzz/ \
           -close_fd_mask=3 > "$log" 2>&1; then
        result=ok
    else
        result=FAILED
        status=1
    fi
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
    ft=$(grep -o 'ft: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
    took=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -1)
    printf 'fuzz: %-24s %s  %s executions in %s s, coverage %s edges, %s features\n' "$t" "$result" "${runs:-?}" \
           "${took:-<$seconds}" "${cov:-?}" "${ft:-?}"
    if [[ $result != ok ]]; then
        grep -E 'ERROR|SUMMARY|Test unit written|==[0-9]+==' "$log" | head -20 >&2 || tail -30 "$log" >&2
    fi
done
exit $status
