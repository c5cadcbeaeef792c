"""Contextual encoders, a character CNN and pooling shared by task heads (the ``encoder_factory`` targets of
``ElmoTaskModule.placed_encoder``)."""
from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from elmo_lab.bilm.chars import N_CHARACTERS


class BiLSTMEncoder(nn.Module):
    """A (multi-layer) bidirectional LSTM over the unpadded part of each row.

    # Parameters
    input_dim : width of the input vectors.
    hidden_dim : LSTM cells per direction; ``output_dim`` is ``2 * hidden_dim``.
    num_layers, dropout : as in ``nn.LSTM`` (dropout between layers).
    """

    def __init__(self, input_dim: int, hidden_dim: int, num_layers: int = 1, dropout: float = 0.0) -> None:
        super().__init__()
        self.lstm = nn.LSTM(input_dim, hidden_dim, num_layers=num_layers, batch_first=True, bidirectional=True,
                            dropout=dropout if num_layers > 1 else 0.0)
        self.output_dim = 2 * hidden_dim

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """``x`` (batch, time, input_dim), ``mask`` (batch, time) → (batch, time, 2 * hidden), zero at padding."""
        lengths = mask.sum(-1).clamp(min=1).cpu()  # (batch,)
        packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        out, _ = self.lstm(packed)
        out, _ = pad_packed_sequence(out, batch_first=True, total_length=x.size(1))  # (batch, time, 2 * hidden)
        return out


def masked_max(h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """(batch, time, dim) → (batch, dim), ignoring padded positions."""
    return h.masked_fill(~mask.unsqueeze(-1), float("-inf")).max(1).values


def masked_min(h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return -masked_max(-h, mask)


def masked_mean(h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    m = mask.unsqueeze(-1).to(h.dtype)  # (batch, time, 1)
    return (h * m).sum(1) / m.sum(1).clamp(min=1.0)  # (batch, dim)


POOLINGS = {"max": masked_max, "mean": masked_mean, "min": masked_min}


def pool(h: torch.Tensor, mask: torch.Tensor, kinds: list[str]) -> torch.Tensor:
    """Concatenate the named poolings of ``h`` (batch, time, dim) → (batch, len(kinds) * dim)."""
    return torch.cat([POOLINGS[k](h, mask) for k in kinds], -1)


class CharCNN(nn.Module):
    """Character embeddings → one convolution → max over the characters: (batch, time, chars) → (batch, time, filters).

    Reads the batches' ``char_ids[:, 1:-1]`` (the biLM's UTF-8 byte ids with word-boundary markers, without the
    sentence-boundary tokens), so tasks with their own character features need no second character vocabulary.

    # Parameters
    char_dim : character embedding width.  num_filters, width : the convolution.
    """

    def __init__(self, char_dim: int, num_filters: int, width: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(N_CHARACTERS, char_dim, padding_idx=0)
        self.conv = nn.Conv1d(char_dim, num_filters, width, padding=width // 2)
        self.output_dim = num_filters

    def forward(self, char_ids: torch.Tensor) -> torch.Tensor:
        batch, time, chars = char_ids.shape
        x = self.embed(char_ids.reshape(batch * time, chars)).transpose(1, 2)  # (batch * time, char_dim, chars)
        h = torch.relu(self.conv(x)).max(-1).values  # (batch * time, filters)
        return h.reshape(batch, time, -1)  # (batch, time, filters)
