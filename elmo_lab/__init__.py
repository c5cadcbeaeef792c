"""elmo_lab: run and compare the ways a pretrained biLM (ELMo) can be put into a task model."""
from .bilm import BiLM, BiLMOptions, batch_to_char_ids, load_bilm, save_bilm

__version__ = "0.1.0"
__all__ = ["BiLM", "BiLMOptions", "batch_to_char_ids", "load_bilm", "save_bilm", "__version__"]
