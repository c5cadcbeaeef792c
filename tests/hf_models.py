"""Tiny Hugging Face models written by the tests (never the hub): BERT-, RoBERTa- and GPT-2-style configs with a
few hidden units, randomly initialised with a fixed seed, saved with ``save_pretrained`` beside a tokenizer the
test builds (a WordPiece vocabulary file, or a byte-level BPE trained on a few sentences)."""
from __future__ import annotations

from pathlib import Path

import torch

WORDS = ["the", "film", "is", "good", "bad", "a", "movie", "play", "##ing", "##s", "un", "##believ", "##able",
         "John", "lives", "in", "Paris", "."]
BPE_TEXT = ["the film is good", "a bad movie", "playing plays unbelievable", "John lives in Paris .",
            "the movie is unbelievable"] * 4


def tiny_bert(folder: Path, layers: int = 2, positions: int = 64) -> Path:
    """A 2-layer, 8-wide BERT and a WordPiece tokenizer of ``WORDS``."""
    from transformers import BertConfig, BertModel, BertTokenizerFast

    folder.mkdir(parents=True, exist_ok=True)
    vocab = folder / "vocab.txt"
    vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + WORDS) + "\n")
    BertTokenizerFast.from_pretrained(str(folder), do_lower_case=False).save_pretrained(folder)
    torch.manual_seed(0)
    config = BertConfig(vocab_size=5 + len(WORDS), hidden_size=8, num_hidden_layers=layers, num_attention_heads=2,
                        intermediate_size=16, max_position_embeddings=positions)
    BertModel(config).save_pretrained(folder)
    return folder


def _bpe(folder: Path, roberta: bool) -> int:
    """A byte-level BPE trained on ``BPE_TEXT``, saved as a fast tokenizer; returns its vocabulary size."""
    from tokenizers import ByteLevelBPETokenizer
    from tokenizers.processors import RobertaProcessing
    from transformers import PreTrainedTokenizerFast

    bpe = ByteLevelBPETokenizer(add_prefix_space=True)
    specials = ["<s>", "<pad>", "</s>", "<unk>"]
    bpe.train_from_iterator(BPE_TEXT, vocab_size=300, min_frequency=1, special_tokens=specials)
    if roberta:
        bpe._tokenizer.post_processor = RobertaProcessing(("</s>", 2), ("<s>", 0), add_prefix_space=True)
    fast = PreTrainedTokenizerFast(tokenizer_object=bpe._tokenizer, bos_token="<s>", eos_token="</s>",
                                   unk_token="<unk>", pad_token="<pad>")
    fast.save_pretrained(folder)
    return bpe.get_vocab_size()


def tiny_roberta(folder: Path, positions: int = 66) -> Path:
    """A 2-layer, 8-wide RoBERTa (positions offset by pad_token_id + 1) and a byte-level BPE with <s> ... </s>."""
    from transformers import RobertaConfig, RobertaModel

    folder.mkdir(parents=True, exist_ok=True)
    vocab_size = _bpe(folder, roberta=True)
    torch.manual_seed(0)
    config = RobertaConfig(vocab_size=vocab_size, hidden_size=8, num_hidden_layers=2, num_attention_heads=2,
                           intermediate_size=16, max_position_embeddings=positions, pad_token_id=1)
    RobertaModel(config).save_pretrained(folder)
    return folder


def tiny_gpt2(folder: Path, positions: int = 64) -> Path:
    """A 2-layer, 8-wide GPT-2 and a byte-level BPE without special tokens around a sentence."""
    from transformers import GPT2Config, GPT2Model

    folder.mkdir(parents=True, exist_ok=True)
    vocab_size = _bpe(folder, roberta=False)
    torch.manual_seed(0)
    config = GPT2Config(vocab_size=vocab_size, n_embd=8, n_layer=2, n_head=2, n_positions=positions)
    GPT2Model(config).save_pretrained(folder)
    return folder
