"""The biLM: character ids, char-CNN token encoder, projected LSTMs, and the official weight layout."""
from elmo_lab.bilm.chars import EmptyInputError, batch_to_char_ids, token_to_char_ids
from elmo_lab.bilm.model import BiLM, BiLMOutput, remove_sentence_boundaries
from elmo_lab.bilm.options import BiLMConfigError, BiLMOptions
from elmo_lab.bilm.weights import WeightFileError, load_bilm, load_weights, save_bilm, save_weights

__all__ = [
    "BiLM", "BiLMOutput", "BiLMOptions", "BiLMConfigError", "EmptyInputError", "WeightFileError",
    "batch_to_char_ids", "token_to_char_ids", "load_bilm", "load_weights", "save_bilm", "save_weights",
    "remove_sentence_boundaries",
]
