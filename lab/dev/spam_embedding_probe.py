#!/usr/bin/env python3
"""Would sentence-encoder features help the spam text model? A dev probe.

Dev-only: Carechat runs no Python, and nothing here ships. The spam text
model (`bot-engine/src/spam/model.rs`) is logistic regression over hashed
word and character n-grams; the bot already computes a sentence embedding of
every (redacted) message for the intents. This probe asks, on the training
part of the SMS Spam Collection only (the same hash split as
`bot_engine::spam::part`, so the held-out fifth is never read), whether
adding that embedding to the n-grams catches more spam at the same share of
legitimate messages flagged. It prints 5-fold out-of-fold recall at 0.25%
and 0.5% of ham flagged for n-grams alone (scikit-learn TF-IDF, character
2-4-grams and word 1-2-grams), the embedding alone, and both.

    pip install scikit-learn
    cargo build --release -p carechat -p carechat-lab && ./target/release/carechat models pull
    python3 lab/dev/spam_embedding_probe.py [--carechat-lab target/release/carechat-lab]

Embeddings are of the raw text with `http(s)://` and `www.` links removed
(a narrower pattern than the scorer's `URL`), not of redacted text as the
bot's would be; see docs/bot.md (Spam) for what it showed.
"""

import argparse
import json
import re
import subprocess

import numpy as np
from scipy.sparse import csr_matrix, hstack
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold

MASK = (1 << 64) - 1
URL = re.compile(r"(?i)\b(?:https?://|www\.)[^\s<>]+")


def fnv1a(namespace: bytes, data: bytes) -> int:
    h = 0xCBF29CE484222325
    for b in namespace + b"\0" + data:
        h ^= b
        h = (h * 0x100000001B3) & MASK
    return h


def mix(z: int) -> int:
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


def held_out(text: str) -> bool:
    """`bot_engine::spam::part(text) == Part::Test`."""
    return mix(fnv1a(b"split", text.encode())) % 5 == 0


def recall_at(scores, spam, share):
    """Spam recall at the threshold flagging at most `share` of the ham."""
    ham = np.sort(scores[~spam])[::-1]
    k = int(np.floor(len(ham) * share))
    t = ham[k] if k < len(ham) else -np.inf
    return (scores[spam] > t).mean(), int((scores[~spam] > t).sum())


def main():
    ap = argparse.ArgumentParser()
    # `--carechat` is the flag's name from before the lab had a binary.
    ap.add_argument("--carechat-lab", "--carechat", dest="carechat", default="target/release/carechat-lab")
    ap.add_argument("--data", default="../shared/data/spam/sms_spam_train.tsv")
    args = ap.parse_args()

    rows = []
    with open(args.data, encoding="utf-8") as f:
        for line in f:
            if not line.strip() or line.startswith("#"):
                continue
            label, text = line.rstrip("\n").split("\t", 1)
            if not held_out(text):
                rows.append((label.strip() == "spam", URL.sub(" ", text)))
    spam = np.array([s for s, _ in rows])
    texts = [t for _, t in rows]
    out = subprocess.run(
        [args.carechat, "eval", "embed"],
        input="\n".join(texts) + "\n",
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    emb = np.array([json.loads(l)["embedding"] for l in out.splitlines()])
    assert len(emb) == len(texts)
    print(f"{len(texts)} training-part messages, {spam.sum()} spam")

    def ngrams(train, test, with_embedding=0.0):
        chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True)
        words = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)
        a_text = [texts[i] for i in train]
        b_text = [texts[i] for i in test]
        a = hstack([chars.fit_transform(a_text), words.fit_transform(a_text)])
        b = hstack([chars.transform(b_text), words.transform(b_text)])
        if with_embedding:
            a = hstack([a, csr_matrix(emb[train] * with_embedding)])
            b = hstack([b, csr_matrix(emb[test] * with_embedding)])
        m = LogisticRegression(C=10, max_iter=3000).fit(a, spam[train])
        return m.decision_function(b)

    def embedding(train, test):
        m = LogisticRegression(C=10, max_iter=3000).fit(emb[train], spam[train])
        return m.decision_function(emb[test])

    folds = StratifiedKFold(5, shuffle=True, random_state=0)
    for name, fit in [
        ("n-grams", ngrams),
        ("embedding", embedding),
        ("n-grams + embedding", lambda a, b: ngrams(a, b, 1.0)),
        ("n-grams + 2 x embedding", lambda a, b: ngrams(a, b, 2.0)),
    ]:
        scores = np.zeros(len(texts))
        for train, test in folds.split(texts, spam):
            scores[test] = fit(train, test)
        cells = []
        for share in (0.0025, 0.005):
            r, flagged = recall_at(scores, spam, share)
            cells.append(f"{r:.2%} at {flagged} ham flagged ({share:.2%})")
        print(f"{name:>24}: " + "; ".join(cells))


if __name__ == "__main__":
    main()
