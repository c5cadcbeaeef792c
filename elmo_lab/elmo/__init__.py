"""ELMo itself, in the order data flows through it: ``provider`` (``ContextualLayers``: token sequences → the
contextual encoder's layers, with its per-sequence ``layer_cache``), ``mix`` (``ScalarMix``: layers → one vector per
token) and ``placements`` (``ElmoPlacedEncoder``: that vector at a task encoder's input, output or both;
``ElmoSettings`` makes them).  The encoders themselves are in ``elmo_lab.contextual``."""
from elmo_lab.elmo.mix import ScalarMix
from elmo_lab.elmo.placements import ElmoPlacedEncoder, ElmoSettings, elmo_penalty, placed_encoders, placed_mixes
from elmo_lab.elmo.provider import ContextualLayers

__all__ = ["ContextualLayers", "ElmoPlacedEncoder", "ElmoSettings", "ScalarMix", "elmo_penalty", "placed_encoders",
           "placed_mixes"]
