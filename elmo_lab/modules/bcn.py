"""The Biattentive Classification Network encoder (McCann et al. 2017), the paper's SST model.

As in AllenNLP's ``BiattentiveClassificationNetwork`` (the ELMo paper's implementation): a ReLU feed-forward
"pre-encoder", a biLSTM encoder, biattention of the sentence with itself, and a biLSTM "integrator" over
``[h; h - h̃; h ⊙ h̃]``.  ELMo at the output placement is concatenated after the integrator, so the pooling in the
head (``SelfAttentivePooling`` + max/min/mean) sees it, exactly where AllenNLP puts its output ELMo.
"""
from __future__ import annotations

import torch
from torch import nn

from elmo_lab.modules.encoders import BiLSTMEncoder, pool


class BCNEncoder(nn.Module):
    """Pre-encoder → biLSTM → self-biattention → integrator biLSTM; ``output_dim = 2 * hidden_dim``.

    # Parameters
    input_dim : width of the token vectors (word embedding, plus ELMo at the input placement).
    hidden_dim : feed-forward width and LSTM cells per direction (the paper: 300).
    dropout : on the integrator input.
    """

    def __init__(self, input_dim: int, hidden_dim: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.pre_encode = nn.Sequential(nn.Linear(input_dim, hidden_dim), nn.ReLU())
        self.encoder = BiLSTMEncoder(hidden_dim, hidden_dim)
        self.integrator = BiLSTMEncoder(6 * hidden_dim, hidden_dim)
        self.dropout = nn.Dropout(dropout)
        self.output_dim = self.integrator.output_dim

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        h = self.encoder(self.pre_encode(x), mask)  # (batch, time, 2 * hidden)
        logits = h @ h.transpose(1, 2)  # (batch, time, time)
        logits = logits.masked_fill(~mask.unsqueeze(1), float("-inf"))
        attention = torch.softmax(logits, -1).nan_to_num(0.0)  # (batch, time, time); all-masked rows → 0
        attended = attention @ h  # (batch, time, 2 * hidden)
        integrator_input = torch.cat([h, h - attended, h * attended], -1)  # (batch, time, 6 * hidden)
        return self.integrator(self.dropout(integrator_input), mask)  # (batch, time, 2 * hidden)


class SelfAttentivePooling(nn.Module):
    """BCN's pooling: max, min, mean and a learned self-attentive sum → (batch, 4 * dim)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.score = nn.Linear(dim, 1)
        self.output_dim = 4 * dim

    def forward(self, h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        scores = self.score(h).squeeze(-1).masked_fill(~mask, float("-inf"))  # (batch, time)
        weights = torch.softmax(scores, -1).nan_to_num(0.0)  # (batch, time)
        attended = (weights.unsqueeze(-1) * h).sum(1)  # (batch, dim)
        return torch.cat([pool(h, mask, ["max", "min", "mean"]), attended], -1)  # (batch, 4 * dim)
