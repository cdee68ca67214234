#!/usr/bin/env bash
# CI's sanitizer stage (run by .ci/run after scripts/test.sh; about 15 minutes on 2 cores):
#  1. the unit and model suites (llama.cpp, the fixture and ShapesWorld models) built with AddressSanitizer +
#     UndefinedBehaviorSanitizer (cmake --preset asan, build-asan/); LeakSanitizer on, so leaks fail a test.
#     eagle's executables run on the private prefix's C library (cmake/llama.cmake); gcc-12's libasan works there.
#  2. each fuzz target for FUZZ_SECONDS (default 30) from its seed corpus (scripts/fuzz.sh).
# Sets up first like scripts/test.sh (a no-op when that ran).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
scripts/setup.sh

mkdir -p .cache
if ! cmake --preset asan > .cache/configure-asan.log 2>&1; then
    cat .cache/configure-asan.log >&2
    echo "test-sanitizers: error: configuring the asan build failed (log above, also in .cache/configure-asan.log)" >&2
    exit 1
fi
cmake --build --preset asan -j"$(nproc)"
ctest --preset asan -j"$(nproc)"

scripts/fuzz.sh "${FUZZ_SECONDS:-30}"
