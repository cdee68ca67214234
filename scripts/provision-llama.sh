#!/usr/bin/env bash
# Provision llama.cpp (libllama + libmtmd + ggml) into a private prefix.
#
# Debian bookworm has no llama.cpp; Debian unstable does, but its binaries need unstable's glibc.
# So we download unstable's packages *and* their runtime (glibc, libstdc++, ...) through a private
# apt configuration and unpack them with dpkg -x into a cache folder of the project. The machine's
# own apt sources, lists and caches are never touched, and nothing is installed system-wide.
# eagle's executables are then linked with that prefix's loader and an RPATH into it (cmake/llama.cmake).
#
# Idempotent: a completed prefix (stamp file) is reused. Usage: scripts/provision-llama.sh [PREFIX]
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
prefix=${1:-${EAGLE_LLAMA_PREFIX:-$repo/.cache/llama-sid}}
state=$repo/.cache/apt-sid
mirror=${EAGLE_SID_MIRROR:-http://deb.debian.org/debian}

# libllama/libggml and the runtime they need from unstable (apt-cache depends libllama0 libggml0);
# llama.cpp's own tools (llama-server, llama-quantize, llama-mtmd-cli, ggml-rpc-server) for the server backend, quantized models and
# the RPC tests; ggml's BLAS backend (on the system's libblas.so.3; measured in BENCHMARKS.md) and its RPC
# backend; llama.cpp's GGUF Python library (pure Python) for the reference-style PyTorch baseline.
packages=(libllama0 libllama-dev libggml0 libggml-dev
          llama.cpp-tools llama.cpp-tools-extra libggml0-backend-blas libggml0-backend-rpc
          python3-gguf
          libc6 libstdc++6 libgcc-s1 libgomp1 libssl3t64 zlib1g libzstd1)

# The stamp lists every unpacked package with its exact version (first line: libllama0's), so a build and
# `eagle --version` can say precisely what they run on; unstable moves, and this is the record of the day.
stamp=$prefix/.eagle-provisioned
stamp_format="# eagle provision stamp v7"
if [[ -f $stamp ]] && grep -qxF "$stamp_format" "$stamp"; then
    echo "provision-llama: using $prefix ($(head -1 "$stamp"))"
    exit 0
fi

mkdir -p "$state/lists/partial" "$state/cache/archives/partial" "$state/debs" "$state/etc"
echo "deb $mirror sid main" > "$state/etc/sources.list"
apt_opts=(-o "Dir::Etc::SourceList=$state/etc/sources.list" -o Dir::Etc::SourceParts=/dev/null
          -o "Dir::Etc::Preferences=/dev/null" -o "Dir::Etc::PreferencesParts=/dev/null"
          -o "Dir::State::Lists=$state/lists" -o "Dir::Cache=$state/cache"
          -o APT::Sandbox::User=root -q)

echo "provision-llama: reading the package index of Debian unstable ($mirror)"
if ! apt-get "${apt_opts[@]}" update > "$state/update.log" 2>&1 || grep -q '^\(E\|Err\):' "$state/update.log"; then
    echo "provision-llama: error: cannot read Debian unstable's package index from $mirror (see $state/update.log)" >&2
    exit 1
fi

echo "provision-llama: downloading ${packages[*]}"
if ! (cd "$state/debs" && rm -f ./*.deb && apt-get "${apt_opts[@]}" download "${packages[@]}" > "$state/download.log" 2>&1); then
    echo "provision-llama: error: cannot download llama.cpp packages from $mirror (see $state/download.log)" >&2
    exit 1
fi

tmp=$prefix.tmp.$$
rm -rf "$tmp"
mkdir -p "$tmp"
for deb in "$state"/debs/*.deb; do
    dpkg -x "$deb" "$tmp"
done
libdir=$tmp/usr/lib/x86_64-linux-gnu
for f in libllama.so libmtmd.so libggml.so libggml-base.so ld-linux-x86-64.so.2; do
    [[ -e $libdir/$f ]] || { echo "provision-llama: error: $f missing after unpacking" >&2; exit 1; }
done
version=$(dpkg-deb -f "$state"/debs/libllama0_*.deb Version)
{
    echo "libllama0 $version"
    for deb in "$state"/debs/*.deb; do
        dpkg-deb -f "$deb" Package Version | paste -sd' ' | sed 's/^Package: \(.*\) Version: /\1 /'
    done | sort
    echo "# from $mirror sid, $(date -u +%Y-%m-%d)"
    echo "$stamp_format"
} > "$tmp/.eagle-provisioned"
rm -rf "$prefix"
mv "$tmp" "$prefix"
echo "provision-llama: llama.cpp $version unpacked into $prefix"
