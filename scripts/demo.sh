#!/usr/bin/env bash
# Sets up and builds everything (scripts/setup.sh), then runs the main job on the embedded default model
# and a bundled sample image: the model's answer, and how likely each answer token stays when half of the
# image is removed.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
scripts/setup.sh >/dev/null
eagle=build/bin/eagle
echo "== eagle generate (embedded default model, $(basename "$(build/bin/eagle --version | head -1)"))"
answer=$("$eagle" generate -q)
echo "answer: $answer"
echo "== eagle score: per-token probability of that answer, full image"
"$eagle" score -q --answer "$answer"
