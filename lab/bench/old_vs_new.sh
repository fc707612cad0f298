#!/usr/bin/env bash
# Old against new, alternated in one run, release builds, one models
# directory: `bench bot --rate 20 --messages 1000` (p99) three times each,
# then `bench redact` on presidio's set twice each. OLD is a `carechat`
# from before issue 17 (its bench commands were `carechat bench ...`), NEW
# a `carechat-lab`; both take the same flags.
#
#   lab/bench/old_vs_new.sh OLD_BINARY NEW_BINARY MODELS_DIR OUT_DIR
set -euo pipefail
cd "$(dirname "$0")/../.."
old=$1 new=$2 models=$3 out=$4
data=../shared/data/phi/presidio_generated_large.json
mkdir -p "$out"
for round in 1 2 3; do
  for who in old new; do
    bin=$old; [ "$who" = new ] && bin=$new
    "$bin" --models-dir "$models" bench bot --intents intents --rate 20 --messages 1000 \
      > "$out/bot-$who-$round.json" 2> "$out/bot-$who-$round.err"
    echo "bot $who $round: $(grep -o '"p99": [0-9.]*' "$out/bot-$who-$round.json")"
  done
done
for round in 1 2; do
  for who in old new; do
    bin=$old; [ "$who" = new ] && bin=$new
    "$bin" --models-dir "$models" bench redact "$data" \
      > "$out/redact-$who-$round.json" 2> "$out/redact-$who-$round.err"
    echo "redact $who $round: $(tr -d '\n ' < "$out/redact-$who-$round.json" | head -c 400)"
  done
done
