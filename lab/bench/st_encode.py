"""Python sentence-transformers on the same model directory and the same texts
as `carechat-lab bench encoder`: texts/s one at a time and in batches, median
of passes. Prints one JSON object. Run by lab/bench/encoder_vs_python.sh."""

import argparse
import json
import os
import pathlib
import statistics
import time
import tomllib


def texts(intents_dir):
    out = []
    for path in sorted(pathlib.Path(intents_dir).glob("*.toml")):
        data = tomllib.loads(path.read_text())
        for key in ("examples", "validation"):
            out.extend(data.get(key, []))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--intents", required=True)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--passes", type=int, default=5)
    args = ap.parse_args()

    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(os.cpu_count())
    started = time.perf_counter()
    model = SentenceTransformer(args.model, device="cpu")
    load_s = time.perf_counter() - started
    items = texts(args.intents)
    model.encode(items[:64], batch_size=args.batch)

    def timed(f):
        passes = []
        for _ in range(args.passes):
            t0 = time.perf_counter()
            f()
            passes.append(time.perf_counter() - t0)
        return len(items) / statistics.median(passes)

    with torch.inference_mode():
        single = timed(lambda: [model.encode([t], batch_size=1) for t in items])
        batched = timed(lambda: model.encode(items, batch_size=args.batch))
    print(json.dumps({
        "engine": "python sentence-transformers",
        "versions": {
            "python": ".".join(map(str, __import__("sys").version_info[:3])),
            "torch": torch.__version__,
            "sentence_transformers": __import__("sentence_transformers").__version__,
        },
        "threads": torch.get_num_threads(),
        "texts": len(items),
        "batch": args.batch,
        "passes": args.passes,
        "load_s": round(load_s, 3),
        "texts_per_s_one_at_a_time": round(single, 1),
        "texts_per_s_batched": round(batched, 1),
    }))


if __name__ == "__main__":
    main()
