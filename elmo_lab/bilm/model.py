"""The bidirectional language model: a shared char-CNN token encoder and a forward and a backward LSTM stack.

It yields ``L + 1`` representations per token, each ``2 * projection_dim`` wide: layer 0 is the token encoding
duplicated (``[x; x]``), layer ``j`` is ``[forward_j; backward_j]``.  The softmax used to train it lives with the
training code (``elmo_lab.lm``); published weight files have none.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from elmo_lab.bilm.chars import batch_to_char_ids
from elmo_lab.bilm.lstm import LSTMStack, reverse_padded, run_stacks
from elmo_lab.bilm.options import BiLMOptions
from elmo_lab.bilm.token_encoder import CharCNNEncoder


@dataclass
class BiLMOutput:
    """What the biLM computes for a batch.

    layers : ``(batch, L + 1, time, 2 * projection_dim)``; zero at padded positions.
    mask : ``(batch, time)`` bool, True at real tokens.
    forward_top, backward_top : ``(batch, time, projection_dim)`` top-layer outputs of each direction (what the LM
        softmax reads).
    """

    layers: torch.Tensor
    mask: torch.Tensor
    forward_top: torch.Tensor
    backward_top: torch.Tensor


class CharBiLMBase(nn.Module):
    """What every character-CNN biLM kind shares (the LSTM ``BiLM``, ``elmo_lab.bilm.transformer.TransformerBiLM``):
    ``options`` with ``n_layers``, ``projection_dim`` and ``max_characters_per_token``; ``forward(char_ids,
    stateful, keep_sentence_boundaries)`` → ``BiLMOutput``; ``carries_state``: whether ``stateful`` calls carry
    state between batches."""

    options: Any
    carries_state: bool = True

    @property
    def num_layers(self) -> int:
        """Number of representations per token, ``L + 1``."""
        return self.options.n_layers + 1

    @property
    def output_dim(self) -> int:
        return self.options.output_dim

    @torch.no_grad()
    def embed_sentences(self, sentences: list[list[str]], stateful: bool = False) -> BiLMOutput:
        """Convenience: tokenised sentences in, boundary-free layers out (eval mode, no gradients)."""
        char_ids = batch_to_char_ids(sentences, self.options.max_characters_per_token)
        device = next(self.parameters()).device
        return self(char_ids.to(device), stateful=stateful)


class BiLM(CharBiLMBase):
    """Character-CNN biLM (Peters et al. 2018).

    # Parameters
    options : the architecture (see ``BiLMOptions``).
    dropout : applied to the inputs of every LSTM layer while training (the paper pretrained with 0.1).
    """

    def __init__(self, options: BiLMOptions, dropout: float = 0.0) -> None:
        super().__init__()
        self.options = options
        self.token_encoder = CharCNNEncoder(options)
        stack = dict(input_dim=options.projection_dim, dim=options.lstm_dim, projection_dim=options.projection_dim,
                     n_layers=options.n_layers, cell_clip=options.cell_clip, proj_clip=options.proj_clip,
                     use_skip_connections=options.use_skip_connections, dropout=dropout,
                     use_projection=options.has_lstm_projection)
        self.forward_lstm = LSTMStack(**stack)
        self.backward_lstm = LSTMStack(**stack)

    def reset_state(self) -> None:
        """Forget the LSTM state carried between stateful calls."""
        self.forward_lstm.reset_state()
        self.backward_lstm.reset_state()

    @property
    def carried_state(self) -> tuple:
        """The LSTM state carried between stateful calls (opaque; see ``reset_state``), to set back later."""
        return self.forward_lstm._state, self.backward_lstm._state

    @carried_state.setter
    def carried_state(self, state: tuple) -> None:
        self.forward_lstm._state, self.backward_lstm._state = state

    def directional_tops(self, forward_ids: torch.Tensor, backward_ids: torch.Tensor,
                         stateful: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """LM use with one input per direction, each already in its LSTM's reading order (stream windows,
        ``elmo_lab.lm.streams``): ``forward_ids`` and ``backward_ids`` ``(batch, time, max_chars)`` with the same
        row lengths.  Returns the top layer of each LSTM stack, ``(batch, time, projection_dim)`` each."""
        lengths = (forward_ids > 0).any(-1).sum(-1)  # (batch,)
        if not torch.equal(lengths, (backward_ids > 0).any(-1).sum(-1)):
            raise ValueError("forward and backward inputs must have the same row lengths")
        tokens = self.token_encoder(torch.cat([forward_ids, backward_ids]))  # (2 * batch, time, proj): one CNN pass
        forward_tokens, backward_tokens = tokens.chunk(2)  # (batch, time, proj) each
        forward, backward = run_stacks([self.forward_lstm, self.backward_lstm], [forward_tokens, backward_tokens],
                                       lengths, stateful)
        return forward[-1], backward[-1]

    def forward(self, char_ids: torch.Tensor, stateful: bool = False,
                keep_sentence_boundaries: bool = False) -> BiLMOutput:
        """Run the biLM over ``char_ids`` ``(batch, time, max_chars)`` that include ``<S>``/``</S>``.

        ``stateful``: each row starts from the state its row ended with in the previous stateful call (as the
        reference implementation does); otherwise every call starts from zero state (deterministic).
        ``keep_sentence_boundaries``: keep the ``<S>``/``</S>`` positions in the output (the LM needs them).
        """
        mask = (char_ids > 0).any(-1)  # (batch, time)
        lengths = mask.sum(-1)  # (batch,)
        tokens = self.token_encoder(char_ids)  # (batch, time, proj)
        # Both directions in one recurrence loop; the backward LSTM reads each row reversed.
        forward, backward = run_stacks([self.forward_lstm, self.backward_lstm],
                                       [tokens, reverse_padded(tokens, lengths)], lengths, stateful)
        backward = [reverse_padded(b, lengths) for b in backward]  # L x (batch, time, proj)
        return assemble_output(tokens, forward, backward, mask, keep_sentence_boundaries)

def assemble_output(tokens: torch.Tensor, forward: list[torch.Tensor], backward: list[torch.Tensor],
                    mask: torch.Tensor, keep_sentence_boundaries: bool) -> BiLMOutput:
    """The ``BiLMOutput`` of any biLM kind: ``tokens`` ``(batch, time, proj)`` and each direction's ``L`` layers
    ``(batch, time, proj)`` in reading order → layer 0 ``[x; x]``, layer j ``[forward_j; backward_j]``."""
    layers = [torch.cat([tokens, tokens], -1)] + [torch.cat(fb, -1) for fb in zip(forward, backward)]
    stacked = torch.stack(layers, 1)  # (batch, L + 1, time, 2 * proj)
    forward_top, backward_top = forward[-1], backward[-1]
    if not keep_sentence_boundaries:
        tops = torch.stack([forward_top, backward_top], 1)  # (batch, 2, time, proj)
        tops, _ = remove_sentence_boundaries(tops, mask)
        forward_top, backward_top = tops[:, 0], tops[:, 1]
        stacked, mask = remove_sentence_boundaries(stacked, mask)
    return BiLMOutput(layers=stacked, mask=mask, forward_top=forward_top, backward_top=backward_top)


def remove_sentence_boundaries(layers: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Drop the first and last real position of each row.

    layers : ``(batch, n, time, dim)``; mask : ``(batch, time)``.
    Returns ``(batch, n, time - 2, dim)`` and the new mask ``(batch, time - 2)``.
    """
    lengths = mask.sum(-1)  # (batch,)
    time = mask.size(1)
    new_lengths = (lengths - 2).clamp(min=0)
    new_mask = torch.arange(time - 2, device=mask.device).unsqueeze(0) < new_lengths.unsqueeze(1)  # (batch, time-2)
    out = layers[:, :, 1:-1] * new_mask[:, None, :, None]  # (batch, n, time - 2, dim)
    return out, new_mask
