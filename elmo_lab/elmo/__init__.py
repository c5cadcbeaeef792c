"""ELMo itself, in the order data flows through it: ``provider`` (``BiLMLayers``: token sequences → biLM layers,
with its per-sequence ``layer_cache``), ``mix`` (``ScalarMix``: layers → one vector per token) and ``placements``
(``ElmoPlacedEncoder``: that vector at a task encoder's input, output or both; ``ElmoSettings`` makes them)."""
from elmo_lab.elmo.mix import ScalarMix
from elmo_lab.elmo.placements import ElmoPlacedEncoder, ElmoSettings, elmo_penalty, placed_encoders, placed_mixes
from elmo_lab.elmo.provider import BiLMLayers

__all__ = ["BiLMLayers", "ElmoPlacedEncoder", "ElmoSettings", "ScalarMix", "elmo_penalty", "placed_encoders",
           "placed_mixes"]
