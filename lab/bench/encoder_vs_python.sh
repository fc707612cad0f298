#!/usr/bin/env bash
# Encoder throughput, Carechat (Rust, Candle) beside Python
# sentence-transformers (PyTorch), on the same model files, the same texts
# (the default whitelist's examples and validation phrasings) and the same
# machine, in one run. Prints both JSON objects and the ratios.
#
#   bash lab/bench/encoder_vs_python.sh [MODEL]      # default all-MiniLM-L6-v2
#
# Needs network access to crates.io and PyPI on first run: it builds the
# release binaries and installs pinned sentence-transformers and torch into
# target/bench-venv (a few GB: PyPI's torch wheel brings its CUDA libraries,
# unused here).
set -euo pipefail
cd "$(dirname "$0")/../.."
model="${1:-all-MiniLM-L6-v2}"
batch=32

cargo build --release --quiet -p carechat -p carechat-lab
target/release/carechat models pull "$model" >&2

venv=target/bench-venv
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet "sentence-transformers==6.3.0" "transformers==5.24.0" "torch==2.15.0"
fi

rust=$(target/release/carechat-lab bench encoder "$model" --batch "$batch")
python=$("$venv/bin/python" lab/bench/st_encode.py --model "models/$model" \
    --intents intents --batch "$batch")

echo "$rust"
echo "$python"
RUST="$rust" PY="$python" python3 - <<'PY'
import json, os
r = json.loads(os.environ["RUST"])["encoders"][0]
p = json.loads(os.environ["PY"])
for k in ("texts_per_s_one_at_a_time", "texts_per_s_batched"):
    print(f"{k}: carechat {r[k]} / sentence-transformers {p[k]} = {r[k] / p[k]:.2f}x")
PY
