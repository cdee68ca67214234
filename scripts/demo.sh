#!/usr/bin/env bash
# Sets up and builds everything (scripts/setup.sh), then runs the main job on the embedded default model and a
# bundled sample image: `eagle explain` — the answer, where the model looked (attribution maps per sentence and
# per word), what each token relied on (vision or language prior), curves, and a self-contained report.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
scripts/setup.sh >/dev/null
out=${1:-out/demo}
build/bin/eagle explain --out "$out"
echo "open $out/report.html in a browser"
