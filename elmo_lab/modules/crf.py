"""A linear-chain conditional random field over tag sequences (the output layer of the BiLSTM-CRF tagger).

The score of tags ``y_1..y_n`` for emissions ``e`` (batch, time, num_tags) is
``start[y_1] + sum_t e[t, y_t] + sum_t transitions[y_(t-1), y_t] + end[y_n]``; the log-likelihood of the gold tags is
their score minus the log partition function (log-sum-exp of the scores of all tag sequences, by the forward
algorithm), and decoding is Viterbi.

Why written here rather than taken from a package: decoding honours the scheme's transition constraints
(:func:`elmo_lab.data.tagging.allowed_transitions`: e.g. no ``I-PER`` after ``O``), so every output reads as intended,
and the start/end transitions are optional. As in the paper's tagger, constraints act in decoding only: the
likelihood normalises over all sequences, and gold sequences are well-formed anyway.

Batches are left-aligned: ``mask`` (batch, time) is True for the first ``length`` positions of a row and False
after; rows may have any length, 0 included (log-likelihood 0, empty path). Computation is in float32 or wider
(emissions in half precision are upcast), since the log-sum-exp over many steps loses too much in 16 bits.
"""

from __future__ import annotations

import torch
from torch import nn

from elmo_lab.data.tagging import Transitions


class ConditionalRandomField(nn.Module):
    """A linear-chain CRF with learned transitions and optional learned start/end transitions.

    # Parameters

    num_tags : the number of tags; emissions have this last dimension.
    constraints : the ``(allowed, start, end)`` masks of :func:`elmo_lab.data.tagging.allowed_transitions`
        (num_tags, num_tags), (num_tags,), (num_tags,); decoding never uses a forbidden transition, start or end.
        ``None``: every sequence is allowed.
    include_start_end_transitions : learn a score for the first and the last tag of a sequence; without it they
        are 0 (constraints on the first/last tag still apply in decoding).
    """

    def __init__(
        self, num_tags: int, constraints: Transitions | tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None,
        include_start_end_transitions: bool = True,
    ) -> None:
        super().__init__()
        if num_tags < 1:
            raise ValueError(f"num_tags={num_tags}: expected at least 1")
        self.num_tags = num_tags
        self.transitions = nn.Parameter(torch.empty(num_tags, num_tags))  # [from, to]
        self.include_start_end_transitions = include_start_end_transitions
        if include_start_end_transitions:
            self.start_transitions = nn.Parameter(torch.empty(num_tags))
            self.end_transitions = nn.Parameter(torch.empty(num_tags))
        else:
            self.register_parameter("start_transitions", None)
            self.register_parameter("end_transitions", None)
        allowed, start, end = self._check_constraints(num_tags, constraints)
        # Derived from the tag vocabulary and scheme, so rebuilt with the module rather than saved with it.
        self.register_buffer("allowed", allowed, persistent=False)  # (num_tags, num_tags) bool
        self.register_buffer("start_allowed", start, persistent=False)  # (num_tags,) bool
        self.register_buffer("end_allowed", end, persistent=False)  # (num_tags,) bool
        self.reset_parameters()

    @staticmethod
    def _check_constraints(num_tags: int, constraints) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        if constraints is None:
            return (torch.ones(num_tags, num_tags, dtype=torch.bool), torch.ones(num_tags, dtype=torch.bool),
                    torch.ones(num_tags, dtype=torch.bool))
        allowed, start, end = (torch.as_tensor(c, dtype=torch.bool) for c in constraints)
        if allowed.shape != (num_tags, num_tags) or start.shape != (num_tags,) or end.shape != (num_tags,):
            raise ValueError(f"constraints of shapes {tuple(allowed.shape)}, {tuple(start.shape)}, "
                             f"{tuple(end.shape)}: expected ({num_tags}, {num_tags}), ({num_tags},), ({num_tags},)")
        # Some tag that may start, end and repeat gives an allowed path of every length (O in BIO and BIOES).
        if not (allowed.diagonal() & start & end).any():
            raise ValueError("constraints allow no tag that may start, follow itself and end a sequence")
        return allowed, start, end

    def reset_parameters(self) -> None:
        nn.init.uniform_(self.transitions, -0.1, 0.1)
        if self.include_start_end_transitions:
            nn.init.uniform_(self.start_transitions, -0.1, 0.1)
            nn.init.uniform_(self.end_transitions, -0.1, 0.1)

    def _start_end(self, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
        if self.include_start_end_transitions:
            return self.start_transitions.to(dtype), self.end_transitions.to(dtype)
        zeros = self.transitions.new_zeros(self.num_tags, dtype=dtype)
        return zeros, zeros

    @staticmethod
    def _check(emissions: torch.Tensor, mask: torch.Tensor, num_tags: int) -> torch.Tensor:
        if emissions.dim() != 3 or emissions.size(-1) != num_tags:
            raise ValueError(f"emissions of shape {tuple(emissions.shape)}: expected (batch, time, {num_tags})")
        if mask.shape != emissions.shape[:2]:
            raise ValueError(f"mask of shape {tuple(mask.shape)}: expected {tuple(emissions.shape[:2])}")
        dtype = torch.promote_types(emissions.dtype, torch.float32)
        return emissions.to(dtype)

    def log_partition(self, emissions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """log Z per row: the log-sum-exp of the scores of every tag sequence of the row's length → (batch,)."""
        emissions = self._check(emissions, mask, self.num_tags)  # (batch, time, tags)
        mask = mask.bool()
        if emissions.size(1) == 0:
            return emissions.new_zeros(emissions.size(0))
        start, end = self._start_end(emissions.dtype)
        transitions = self.transitions.to(emissions.dtype)
        alpha = start + emissions[:, 0]  # (batch, tags): log-sum of the scores of paths ending in each tag
        for t in range(1, emissions.size(1)):
            step = torch.logsumexp(alpha.unsqueeze(2) + transitions, dim=1) + emissions[:, t]  # (batch, tags)
            alpha = torch.where(mask[:, t].unsqueeze(1), step, alpha)
        log_z = torch.logsumexp(alpha + end, dim=1)  # (batch,)
        return log_z.masked_fill(~mask[:, 0], 0.0)  # empty rows: the one empty path, score 0

    def score(self, emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """The unnormalised score of ``tags`` (batch, time) per row → (batch,); tags under the mask are ignored."""
        emissions = self._check(emissions, mask, self.num_tags)  # (batch, time, tags)
        if tags.shape != mask.shape:
            raise ValueError(f"tags of shape {tuple(tags.shape)}: expected {tuple(mask.shape)}")
        mask = mask.bool()
        if emissions.size(1) == 0:
            return emissions.new_zeros(emissions.size(0))
        tags = tags.long().masked_fill(~mask, 0)  # padding may hold any value, e.g. -100
        start, end = self._start_end(emissions.dtype)
        weights = mask.to(emissions.dtype)  # (batch, time)
        emitted = emissions.gather(2, tags.unsqueeze(2)).squeeze(2)  # (batch, time)
        moved = self.transitions.to(emissions.dtype)[tags[:, :-1], tags[:, 1:]]  # (batch, time - 1)
        lengths = mask.sum(1)  # (batch,)
        last = tags.gather(1, (lengths - 1).clamp(min=0).unsqueeze(1)).squeeze(1)  # (batch,)
        total = (emitted * weights).sum(1) + (moved * weights[:, 1:]).sum(1)  # (batch,)
        return (total + start[tags[:, 0]] + end[last]) * weights[:, 0]

    def log_likelihood(self, emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor,
                       reduction: str = "sum") -> torch.Tensor:
        """log p(tags | emissions) per row (``reduction="none"``, (batch,)), or its ``"sum"`` or ``"mean"``.

        # Parameters

        emissions : (batch, time, num_tags) unnormalised tag scores, e.g. a linear layer over the encoder.
        tags : (batch, time) gold tag ids; values at masked positions are ignored.
        mask : (batch, time) True at real tokens, left-aligned.
        reduction : ``"none"``, ``"sum"`` or ``"mean"`` (over rows). The loss to minimise is its negative.
        """
        if reduction not in ("none", "sum", "mean"):
            raise ValueError(f"reduction={reduction!r}: expected 'none', 'sum' or 'mean'")
        result = self.score(emissions, tags, mask) - self.log_partition(emissions, mask)  # (batch,)
        return result if reduction == "none" else result.sum() if reduction == "sum" else result.mean()

    forward = log_likelihood

    def viterbi(self, emissions: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The best allowed tag sequence per row, batched: (paths (batch, time) with 0 after each row's end,
        scores (batch,), the constrained score of each path; 0 for empty rows)."""
        emissions = self._check(emissions, mask, self.num_tags)  # (batch, time, tags)
        mask = mask.bool()
        batch, time = mask.shape
        if time == 0:
            return mask.new_zeros(batch, 0, dtype=torch.long), emissions.new_zeros(batch)
        forbidden = torch.tensor(float("-inf"), dtype=emissions.dtype, device=emissions.device)
        start, end = self._start_end(emissions.dtype)
        start = torch.where(self.start_allowed, start, forbidden)  # (tags,)
        end = torch.where(self.end_allowed, end, forbidden)  # (tags,)
        transitions = torch.where(self.allowed, self.transitions.to(emissions.dtype), forbidden)  # (tags, tags)
        identity = torch.arange(self.num_tags, device=emissions.device).expand(batch, -1)  # (batch, tags)
        best = start + emissions[:, 0]  # (batch, tags): best score of a path ending in each tag
        backpointers = []
        for t in range(1, time):
            scores, previous = (best.unsqueeze(2) + transitions).max(dim=1)  # (batch, tags) each
            step_mask = mask[:, t].unsqueeze(1)  # (batch, 1)
            best = torch.where(step_mask, scores + emissions[:, t], best)
            backpointers.append(torch.where(step_mask, previous, identity))  # padding: stay on the same tag
        final, tag = (best + end).max(dim=1)  # (batch,) each
        path = [tag]
        for previous in reversed(backpointers):
            tag = previous.gather(1, tag.unsqueeze(1)).squeeze(1)  # (batch,)
            path.append(tag)
        paths = torch.stack(path[::-1], dim=1).masked_fill(~mask, 0)  # (batch, time)
        return paths, final.masked_fill(~mask[:, 0], 0.0)

    def decode(self, emissions: torch.Tensor, mask: torch.Tensor) -> list[list[int]]:
        """Viterbi under the constraints: the best allowed tag ids of each row, as many as its mask has True."""
        paths, _ = self.viterbi(emissions, mask)  # (batch, time)
        lengths = mask.sum(1).tolist()
        return [row[:length] for row, length in zip(paths.tolist(), lengths)]
