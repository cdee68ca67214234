#!/usr/bin/env bash
# Sets up everything eagle.cpp needs on Debian 12 and builds it: Debian packages (only the missing ones),
# llama.cpp in a private prefix (scripts/provision-llama.sh), then a CMake release build in build/.
# Idempotent: a second run only rebuilds what changed.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"

packages=(g++ cmake make pkg-config ca-certificates
          libopencv-dev libjpeg-dev libpng-dev libcurl4-openssl-dev
          nlohmann-json3-dev libcli11-dev libgtest-dev libgmock-dev libbenchmark-dev chromium fonts-liberation
          python3-dev python3-pybind11 python3-numpy python3-pil python3-pytest python3-matplotlib python3-tqdm python3-yaml
          python3-nbclient python3-nbformat python3-ipykernel
          clang-14 libclang-rt-14-dev   # scripts/fuzz.sh: libFuzzer
          libopenblas0-openmp)          # the BLAS eagle runs its large products on (BENCHMARKS.md, "Per evaluation")
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
    echo "setup: installing ${missing[*]}"
    sudo=""
    [[ $(id -u) -eq 0 ]] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

scripts/provision-llama.sh

# configure quietly (CMake notes, e.g. that the private prefix carries its own libz, are kept in the log)
mkdir -p .cache
if ! cmake --preset default > .cache/configure.log 2>&1; then
    cat .cache/configure.log >&2
    echo "setup: error: configuring the build failed (log above, also in .cache/configure.log)" >&2
    exit 1
fi
cmake --build build -j"$(nproc)"
echo "setup: built build/bin/eagle"
