#!/usr/bin/env bash
# Sets up and builds everything (scripts/setup.sh), then runs the whole test suite.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
scripts/setup.sh
ctest --preset default -j"$(nproc)"
