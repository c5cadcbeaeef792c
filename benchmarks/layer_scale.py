"""The size of what ELMo adds beside a task's own word vectors: RMS per component of each biLM layer and of the mix
that training starts from (uniform weights, γ = 1), on MR training sentences, beside a freshly initialised
``nn.Embedding`` (what ``x_k`` is before training: N(0, 1)).

A mix far larger than ``x_k`` would swamp the task's own vectors at the encoder's input, a far smaller one would be
ignored until γ grows; either would make ELMo trail at low data for a reason that rescaling fixes.

    python benchmarks/layer_scale.py [--bilm default] [--sentences 600]
"""
from __future__ import annotations

import argparse

import torch

from elmo_lab.bilm.pretrained import load_named_bilm
from elmo_lab.data.movie_reviews import rotten_tomatoes_splits


def layer_rms(bilm_spec: str, n_sentences: int, batch: int = 100) -> tuple[list[float], float]:
    """RMS per component over the unmasked tokens of each layer, and of the layers' plain average."""
    sentences = [e.tokens for e in rotten_tomatoes_splits(0)["train"][:n_sentences]]
    bilm = load_named_bilm(bilm_spec).eval()
    squares, mix_squares, count = None, 0.0, 0
    with torch.no_grad():
        for start in range(0, len(sentences), batch):
            out = bilm.embed_sentences(sentences[start:start + batch])
            mask = out.mask.bool()  # (batch, time)
            layers = out.layers.permute(1, 0, 2, 3)[:, mask]  # (L+1, tokens, dim)
            per_layer = layers.pow(2).sum(dim=(1, 2))  # (L+1,)
            squares = per_layer if squares is None else squares + per_layer
            mix_squares += float(layers.mean(0).pow(2).sum())
            count += layers.shape[1] * layers.shape[2]
    assert squares is not None
    return [float((s / count) ** 0.5) for s in squares], (mix_squares / count) ** 0.5


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bilm", default="default")
    parser.add_argument("--sentences", type=int, default=600)
    args = parser.parse_args()
    per_layer, mix = layer_rms(args.bilm, args.sentences)
    embedding = torch.nn.Embedding(1000, 100).weight.detach()
    for j, value in enumerate(per_layer):
        print(f"layer {j}: RMS {value:.3f}")
    print(f"uniform mix, gamma 1: RMS {mix:.3f}")
    print(f"nn.Embedding at init: RMS {float(embedding.pow(2).mean().sqrt()):.3f}")


if __name__ == "__main__":
    main()
