"""The published ELMo models' shapes (Peters et al. 2018; AllenNLP's ELMo page), in the official ``options.json``
layout: the one home of these numbers.  ``elmo_lab.bilm.pretrained`` downloads and checks the models by them, and
pretraining offers each shape as a ``bilm_arch`` choice (``bilm_arch=elmo-small``, registered by
``elmo_lab.config.pretrain``).  Light: plain data.
"""
from __future__ import annotations

from typing import Any

FILTERS = [[1, 32], [2, 32], [3, 64], [4, 128], [5, 256], [6, 512], [7, 1024]]  # 2048 filters in all


def _options(lstm_dim: int, projection_dim: int, n_highway: int) -> dict[str, Any]:
    return {"lstm": {"dim": lstm_dim, "projection_dim": projection_dim, "n_layers": 2, "cell_clip": 3,
                     "proj_clip": 3, "use_skip_connections": True},
            "char_cnn": {"embedding": {"dim": 16}, "filters": FILTERS, "n_highway": n_highway, "n_characters": 262,
                         "max_characters_per_token": 50, "activation": "relu"}}


# name -> the AllenNLP directory, the published parameter count (no softmax), the bilm_arch choice of its shape
# (None: another model's), a note, and its options
PUBLISHED_SHAPES: dict[str, dict[str, Any]] = {
    "elmo_small": {"directory": "2x1024_128_2048cnn_1xhighway", "n_params_millions": 13.6, "arch": "elmo-small",
                   "note": "layers 256 wide; 1B Word Benchmark", "options": _options(1024, 128, 1)},
    "elmo_medium": {"directory": "2x2048_256_2048cnn_1xhighway", "n_params_millions": 28.0, "arch": "elmo-medium",
                    "note": "layers 512 wide; 1B Word Benchmark", "options": _options(2048, 256, 1)},
    "elmo_original": {"directory": "2x4096_512_2048cnn_2xhighway", "n_params_millions": 93.6,
                      "arch": "elmo-original", "note": "layers 1024 wide; the paper's model, 1B Word Benchmark",
                      "options": _options(4096, 512, 2)},
    "elmo_original_5.5B": {"directory": "2x4096_512_2048cnn_2xhighway_5.5B", "n_params_millions": 93.6,
                           "arch": None, "note": "layers 1024 wide; trained on 5.5B tokens (Wikipedia + WMT news crawl)",
                           "options": _options(4096, 512, 2)},
}
