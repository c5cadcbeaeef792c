"""The biLMs: character ids, the char-CNN token encoder, projected LSTMs or causal self-attention stacks, and the
weight layout (the official one for the LSTM biLM)."""
from elmo_lab.bilm.chars import EmptyInputError, batch_to_char_ids, token_to_char_ids
from elmo_lab.bilm.model import BiLM, BiLMOutput, remove_sentence_boundaries
from elmo_lab.bilm.options import BiLMConfigError, BiLMOptions
from elmo_lab.bilm.transformer import TransformerBiLM
from elmo_lab.bilm.transformer_options import TransformerOptions
from elmo_lab.bilm.weights import WeightFileError, load_bilm, load_weights, save_bilm, save_weights

__all__ = [
    "BiLM", "BiLMOutput", "BiLMOptions", "BiLMConfigError", "EmptyInputError", "TransformerBiLM",
    "TransformerOptions", "WeightFileError", "batch_to_char_ids", "token_to_char_ids", "load_bilm", "load_weights",
    "save_bilm", "save_weights", "remove_sentence_boundaries",
]
