"""``Elmo``: the one component through which every task gets ELMo.

Built once per run from the ``elmo.*`` and ``bilm.*`` configs (``Elmo.from_config``) and handed, as it is, to the
task's datamodule and to its model (AllenNLP's ``Elmo`` plays the same role).  It owns

- the pretrained biLM: loaded only when something reads it (``elmo.placement != none`` or ``bilm.finetune``, decided
  here and nowhere else); a frozen biLM stays in eval mode and is left out of checkpoints (restored from
  ``bilm.spec`` on load); a stateful one is reset by ``reset_state``;
- ``layers(tokens, char_ids)``: the biLM layers of **any** batch of token sequences of an example (a sentence, a
  passage, a question), computed once per distinct sequence per run when the biLM is constant (the cache below);
- what the data side needs: ``needs_char_ids`` (build biLM character ids per batch) and ``max_characters_per_token``;
- the placed encoders (``placed_encoder``) with their scalar mixes, and the λ penalty over all of them.

The cache: when the biLM is frozen and stateless (``bilm.cache``), ``cache_sequences`` registers every token sequence
the run will see; the first ``layers`` call then runs the biLM once over them (sorted, fixed batches: the same values
whatever the training order or a resume) and keeps each sequence's layers in float16 on the CPU.  It is filled
lazily, on the model's device, after any fine-tuning and after a checkpoint is restored, so the cached values are
always those of the biLM the task trains against.  With ``bilm.cache_on_disk`` the layers go to a store shared by all
runs and processes (``elmo_lab.layer_cache``: keyed by the biLM's weights and the sequences, memory-mapped, read per
batch), so a sweep runs the biLM once; otherwise (or when the disk cannot take them) they stay in this run's memory.
"""
from __future__ import annotations

import logging
from dataclasses import asdict
from typing import Any, Callable, Iterable, Iterator, Sequence

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from .bilm.chars import batch_to_char_ids
from .bilm.model import BiLM
from .layer_cache import CorruptEntryError, LayerEntry, LayerStore, entry_key, sequences_digest, weights_digest
from .mix import ScalarMix
from .placements import ElmoPlacedEncoder

log = logging.getLogger(__name__)
BILM_PREFIX = "bilm."
DEFAULT_MAX_CHARS = 50


class Elmo(nn.Module):
    """The biLM, its frozen-layer cache and the ELMo placements of one task model.

    # Parameters
    bilm : the pretrained biLM, or None when nothing reads it (``placement=none`` without fine-tuning).
    placement, mix, layer, layer_norm, dropout, l2_coef : the ``elmo.*`` settings (see ``elmo_lab.placements`` and
        ``elmo_lab.mix``).
    freeze : keep the biLM fixed (no gradients, eval mode).
    stateful : carry LSTM state across batches like bilm-tf (``reset_state`` at epoch starts).
    cache : reuse the layers of each distinct sequence (only applies when frozen and stateless).
    cache_store : where the reused layers go: a ``LayerStore`` shared across runs, or None (this run's memory).
    finetuned : the biLM is changed before task training (``bilm.finetune``), so it is kept in checkpoints.
    """

    def __init__(self, bilm: BiLM | None, placement: str = "none", mix: str = "all", layer: int | None = None,
                 layer_norm: bool = False, dropout: float = 0.0, l2_coef: float = 0.0, freeze: bool = True,
                 stateful: bool = False, cache: bool = False, cache_store: LayerStore | None = None,
                 finetuned: bool = False) -> None:
        super().__init__()
        if placement != "none" and bilm is None:
            raise ValueError(f"placement {placement!r} needs a biLM")
        self.bilm = bilm
        self.placement, self.mix_mode, self.layer, self.layer_norm = placement, mix, layer, layer_norm
        self.dropout, self.l2_coef = dropout, l2_coef
        self.freeze, self.stateful, self.finetuned = freeze, stateful, finetuned
        self.use_cache = bilm is not None and placement != "none" and cache and freeze and not stateful
        self._placed: list[tuple[str, ElmoPlacedEncoder]] = []  # not submodules: the task model registers them
        self._pending: set[tuple[str, ...]] = set()
        self._cache: dict[tuple[str, ...], np.ndarray] = {}  # in memory: (len, L + 1, dim) float16
        self._store = cache_store if self.use_cache else None
        self._on_disk: dict[tuple[str, ...], tuple[LayerEntry, int]] = {}  # sequence -> (entry, index in it)
        if bilm is not None and freeze:
            bilm.requires_grad_(False)
            bilm.eval()
        self.register_state_dict_post_hook(_drop_constant_bilm)
        self.register_load_state_dict_pre_hook(_restore_constant_bilm)

    @classmethod
    def from_config(cls, elmo: dict, bilm: dict) -> "Elmo":
        """The component for the ``elmo.*`` and ``bilm.*`` configs (plain dicts); loads the biLM only if needed.
        ``bilm.random_weights``: the architecture of ``bilm.spec`` with freshly initialised weights, the same in every
        run (a fixed seed, the global RNG left as it was) — the untrained control of probing studies."""
        finetune = bool(bilm.get("finetune", {}).get("enabled", False))
        model = None
        if elmo["placement"] != "none" or finetune:
            from .bilm.pretrained import load_named_bilm, resolve_bilm  # imported late: they pull in the downloader

            if bilm.get("random_weights", False):
                from .bilm.weights import load_bilm

                options, _ = resolve_bilm(bilm["spec"])
                with torch.random.fork_rng(devices=[]):
                    torch.manual_seed(12345)
                    model = load_bilm(options, None)  # no weights file: PyTorch's default initialisation
            else:
                model = load_named_bilm(bilm["spec"])
        return cls(model, placement=elmo["placement"], mix=elmo["mix"], layer=elmo.get("layer"),
                   layer_norm=elmo.get("layer_norm", False), dropout=elmo.get("dropout", 0.0),
                   l2_coef=elmo.get("l2_coef", 0.0), freeze=bilm.get("freeze", True),
                   stateful=bilm.get("stateful", False), cache=bilm.get("cache", False),
                   cache_store=LayerStore.from_config(bilm), finetuned=finetune)

    # --- what the data side needs -----------------------------------------------------------------------------
    @property
    def reads_bilm(self) -> bool:
        """Some placement reads the biLM layers."""
        return self.placement != "none"

    @property
    def needs_char_ids(self) -> bool:
        """Batches must carry biLM character ids: the biLM runs per batch (no cache)."""
        return self.reads_bilm and not self.use_cache

    @property
    def max_characters_per_token(self) -> int:
        return self.bilm.options.max_characters_per_token if self.bilm is not None else DEFAULT_MAX_CHARS

    @property
    def constant_bilm(self) -> bool:
        """The biLM never changes in this run (frozen, not fine-tuned): checkpoints leave it out."""
        return self.bilm is not None and self.freeze and not self.finetuned

    # --- the biLM layers ----------------------------------------------------------------------------------------
    def layers(self, tokens: Sequence[Sequence[str]], char_ids: torch.Tensor | None = None) -> torch.Tensor | None:
        """The biLM layers of a batch of token sequences: (batch, L + 1, time, dim), or None when no placement reads
        them.  ``char_ids`` (batch, time + 2, chars) are the collated ids (built from ``tokens`` if absent)."""
        if not self.reads_bilm:
            return None
        if self.use_cache:
            cached = self._from_cache(tokens)
            if cached is not None:
                return cached
        device = next(self.bilm.parameters()).device
        if char_ids is None:
            char_ids = batch_to_char_ids([list(t) for t in tokens], self.max_characters_per_token)
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.freeze):
            out = self.bilm(char_ids.to(device), stateful=self.stateful)
        return out.layers  # (batch, L + 1, time, dim)

    def cache_sequences(self, sequences: Iterable[Sequence[str]]) -> None:
        """Register the token sequences whose layers the cache should hold (computed at the first ``layers`` call).
        Does nothing when the cache does not apply."""
        if self.use_cache:
            self._pending.update(tuple(s) for s in sequences if len(s) > 0)

    @torch.no_grad()
    def fill_cache(self, sequences: Iterable[Sequence[str]] = (), batch_size: int = 128) -> None:
        """Run the biLM now over ``sequences`` and every registered sequence not cached yet (or read their layers
        from the disk store, where another run or process has written them)."""
        self._pending.update(tuple(s) for s in sequences if len(s) > 0)
        todo = sorted(self._pending - self._cache.keys() - self._on_disk.keys(), key=lambda s: (len(s), s))
        self._pending.clear()
        if not todo:
            return
        was_training = self.bilm.training
        self.bilm.eval()
        try:
            if self._store is None or not self._fill_disk(todo, batch_size):
                for chunk, rows in self._passes(todo, batch_size):  # rows: (tokens of chunk, L + 1, dim) float16
                    starts = np.cumsum([0] + [len(s) for s in chunk])
                    for i, sequence in enumerate(chunk):
                        self._cache[sequence] = rows[starts[i]: starts[i + 1]]  # (len, L + 1, dim)
        finally:
            self.bilm.train(was_training)

    def _passes(self, todo: list[tuple[str, ...]], batch_size: int) -> Iterator[tuple[list, np.ndarray]]:
        """The biLM over ``todo`` in fixed batches: (batch's sequences, their rows (tokens, L + 1, dim) float16)."""
        device = next(self.bilm.parameters()).device
        bar = tqdm(total=len(todo), desc="biLM layers (cached once per sequence)", unit="seq", leave=False,
                   disable=len(todo) < 1000)
        for i in range(0, len(todo), batch_size):
            chunk = todo[i: i + batch_size]
            ids = batch_to_char_ids([list(s) for s in chunk], self.max_characters_per_token).to(device)
            layers = self.bilm(ids).layers  # (b, L + 1, time, dim)
            lengths = torch.tensor([len(s) for s in chunk], device=device)  # (b,)
            mask = torch.arange(layers.size(2), device=device)[None, :] < lengths[:, None]  # (b, time)
            rows = layers.transpose(1, 2)[mask]  # (tokens of chunk, L + 1, dim), sequence after sequence
            yield chunk, rows.to(torch.float16).cpu().numpy()
            bar.update(len(chunk))
        bar.close()

    def _fill_disk(self, todo: list[tuple[str, ...]], batch_size: int) -> bool:
        """Serve ``todo`` from the disk store (written now if no process has); False if the store cannot."""
        device = next(self.bilm.parameters()).device
        compute = str(torch.get_autocast_dtype(device.type)) if torch.is_autocast_enabled(device.type) else "float32"
        weights, sequences = weights_digest(self.bilm), sequences_digest(todo)
        meta = dict(weights_sha256=weights, compute=compute, options=asdict(self.bilm.options),
                    bilm_parameters=sum(p.numel() for p in self.bilm.parameters()))
        entry = self._store.open_or_build(entry_key(weights, sequences, compute), [len(s) for s in todo],
                                          self.bilm.num_layers, self.bilm.output_dim,
                                          lambda: (rows for _, rows in self._passes(todo, batch_size)), meta)
        if entry is None:
            return False
        self._on_disk.update((sequence, (entry, i)) for i, sequence in enumerate(todo))
        return True

    def _from_cache(self, tokens: Sequence[Sequence[str]]) -> torch.Tensor | None:
        if self._pending:
            self.fill_cache()
        try:
            return self._assemble(tokens)
        except CorruptEntryError as e:  # a chunk failed its CRC: rebuild that entry and read again
            entry = next(en for en, _ in self._on_disk.values() if en.path == e.path)
            log.warning("biLM layer cache: %s; rebuilding it", e)
            self._store.discard(entry)
            lost = [s for s, (en, _) in self._on_disk.items() if en is entry]
            for sequence in lost:
                del self._on_disk[sequence]
            self.fill_cache(lost)
            return self._assemble(tokens)

    def _assemble(self, tokens: Sequence[Sequence[str]]) -> torch.Tensor | None:
        """The cached layers of a batch, zero-padded: (batch, L + 1, time, dim) float32 on the biLM's device."""
        rows = []
        for t in tokens:
            key = tuple(t)
            if key in self._on_disk:
                entry, i = self._on_disk[key]
                rows.append(entry.sequence(i))  # (len, L + 1, dim) float16, memory-mapped
            elif key in self._cache:
                rows.append(self._cache[key])  # (len, L + 1, dim) float16
            else:
                return None  # a sequence nobody registered: the caller runs the biLM on the whole batch
        if not rows:
            return None
        _, n_layers, dim = rows[0].shape
        time, device = max(len(t) for t in tokens), next(self.bilm.parameters()).device
        if device.type == "cpu":  # straight into float32
            out = torch.zeros(len(rows), n_layers, time, dim)  # (batch, L + 1, time, dim)
            for i, r in enumerate(rows):
                out[i, :, : len(r)] = torch.from_numpy(r).transpose(0, 1)
            return out
        half = np.zeros((len(rows), time, n_layers, dim), dtype=np.float16)  # (batch, time, L + 1, dim)
        for i, r in enumerate(rows):
            half[i, : len(r)] = r  # one contiguous block per sequence
        half = torch.from_numpy(half).to(device).transpose(1, 2)  # (batch, L + 1, time, dim): half the bytes moved
        return torch.empty(half.shape, dtype=torch.float32, device=device).copy_(half)  # contiguous float32

    def reset_state(self) -> None:
        """Start a stateful biLM's rows from zero state (epoch starts)."""
        if self.bilm is not None and self.stateful:
            self.bilm.reset_state()

    def train(self, mode: bool = True) -> "Elmo":
        """A frozen biLM stays in eval mode (no dropout inside it) while the task layers train."""
        super().train(mode)
        if self.bilm is not None and self.freeze:
            self.bilm.eval()
        return self

    # --- placements, mixes and the λ penalty --------------------------------------------------------------------
    def placed_encoder(self, word_dim: int, encoder_factory: Callable[[int], nn.Module],
                       name: str = "encoder") -> ElmoPlacedEncoder:
        """A task's contextual encoder with ELMo placed as ``elmo.*`` says; each call has its own mixes.  The task
        model keeps the returned module as a submodule; ``name`` prefixes its mixes when there are several."""
        width = self.bilm.output_dim if self.reads_bilm else 0
        layers = self.bilm.num_layers if self.reads_bilm else 0
        encoder = ElmoPlacedEncoder(word_dim, layers, width, encoder_factory, placement=self.placement,
                                    mix=self.mix_mode, layer_norm=self.layer_norm, layer=self.layer,
                                    dropout=self.dropout, l2_coef=self.l2_coef)
        if any(n == name for n, _ in self._placed):
            raise ValueError(f"a placed encoder named {name!r} exists already; pass another name")
        self._placed.append((name, encoder))
        return encoder

    def mixes(self) -> dict[str, ScalarMix]:
        """Every scalar mix: ``input``/``output``, prefixed ``<name>.`` when there are several placed encoders."""
        out = {}
        for name, encoder in self._placed:
            for mix_name, mix in encoder.mixes().items():
                out[mix_name if len(self._placed) == 1 else f"{name}.{mix_name}"] = mix
        return out

    def regularization_loss(self) -> torch.Tensor:
        """Σ over placed encoders of ``λ·Σw²`` (a zero scalar when nothing is learned)."""
        terms = [encoder.regularization_loss() for _, encoder in self._placed]
        if not terms:
            return torch.zeros(())
        return torch.stack([t.to(terms[0].device) for t in terms]).sum()


def _drop_constant_bilm(module: Elmo, state: dict, prefix: str, local_metadata: Any) -> None:
    """state_dict hook: a constant biLM is not saved (it is reloaded from ``bilm.spec``)."""
    if module.constant_bilm:
        for key in [k for k in state if k.startswith(prefix + BILM_PREFIX)]:
            del state[key]


def _restore_constant_bilm(module: Elmo, state: dict, prefix: str, *args: Any) -> None:
    """load_state_dict pre-hook: put the loaded biLM's own weights where a checkpoint left them out."""
    if module.constant_bilm and not any(k.startswith(prefix + BILM_PREFIX) for k in state):
        state.update({prefix + BILM_PREFIX + k: v for k, v in module.bilm.state_dict().items()})
