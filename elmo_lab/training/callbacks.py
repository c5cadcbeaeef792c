"""What the model learned about the biLM's layers: each mix's softmax weights ``s`` and ``γ``, through training and
at the end as a heatmap (mix × layer, the paper's Figure 2)."""
from __future__ import annotations

from pathlib import Path

import pytorch_lightning as pl
import torch

from elmo_lab.elmo.placements import placed_mixes
from elmo_lab.metrics.layer_scores import center_of_gravity, norm_shares
from elmo_lab.util.atomic import atomic_path


def layer_weights(module: pl.LightningModule, norms_split: str | None = None) -> dict[str, dict]:
    """``{mix name: {"s": [softmax weights], "gamma": float, "center_of_gravity": E_s}}`` for every mix of an
    ``ElmoTaskModule`` (``elmo_lab.metrics.layer_scores``; ``s`` covers layers ``0..elmo.max_layer``).  With
    ``norms_split`` (the split of the pass the mixes measured, ``ScalarMix.measure_norms``) each entry also gets
    ``"contributions"``: ``{"split", "tokens", "mean_norm": [m_ℓ], "share": [norm-weighted share of each layer],
    "center_of_gravity": Σ ℓ·share_ℓ}``."""
    mixes = module.mixes() if hasattr(module, "mixes") else {}
    out = {}
    with torch.no_grad():
        for name, m in mixes.items():
            s = [float(v) for v in m.normalized_weights().cpu()]
            entry = {"s": s, "gamma": float(m.gamma.item()), "center_of_gravity": center_of_gravity(s)}
            meter = m.norm_meter
            if norms_split is not None and meter is not None and meter.tokens:
                share = norm_shares(s, meter.mean_norms())
                entry["contributions"] = {"split": norms_split, "tokens": meter.tokens,
                                          "mean_norm": meter.mean_norms(), "share": share,
                                          "center_of_gravity": center_of_gravity(share) if any(share) else None}
            out[name] = entry
    return out


def measure_layer_norms(model: torch.nn.Module, on: bool = True) -> None:
    """Make every mix of ``model`` measure its layers' token norms from the next pass on (fresh meters; ``on=False``:
    nothing): the norm-weighted contributions of ``layer_weights``."""
    if on:
        for mix in placed_mixes(model).values():
            mix.measure_norms()


def plot_layer_weights(weights: dict[str, dict], path: str | Path, title: str = "") -> Path | None:
    """Write a PNG heatmap, one row per mix, one column per biLM layer, annotated with ``s_j`` and ``γ``.

    Returns the path, or None when there is no mix (``elmo.placement=none``).  Written atomically.
    """
    if not weights:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(weights)
    values = [weights[n]["s"] for n in names]
    n_layers = len(values[0])
    fig, ax = plt.subplots(figsize=(1.2 + 1.1 * n_layers, 0.9 + 0.6 * len(names)))
    image = ax.imshow(values, vmin=0.0, vmax=1.0, cmap="viridis", aspect="auto")
    for i, row in enumerate(values):
        for j, v in enumerate(row):
            ax.text(j, i, f"{v:.2f}", ha="center", va="center", color="white" if v < 0.6 else "black", fontsize=9)
    ax.set_xticks(range(n_layers), ["layer 0 (token)"] + [f"layer {j}" for j in range(1, n_layers)])
    ax.set_yticks(range(len(names)), [f"{n} (γ={weights[n]['gamma']:.2f})" for n in names])
    ax.set_title(title or "ELMo layer weights s_j")
    fig.colorbar(image, ax=ax, fraction=0.05)
    fig.tight_layout()
    path = Path(path)
    try:
        with atomic_path(path, suffix=".png") as tmp:
            fig.savefig(tmp, dpi=120, format="png")
    finally:
        plt.close(fig)
    return path


class LayerWeightLogger(pl.Callback):
    """Logs ``layer_weights/<mix>/s<j>`` and ``layer_weights/<mix>/gamma`` every ``every_n_steps`` training steps
    (to every logger); ``write_heatmap`` (called by the training pipeline once the best checkpoint is loaded) writes
    ``heatmap_path`` and sends it to wandb when a WandbLogger is in use.

    # Parameters
    every_n_steps : logging period in optimiser steps.
    heatmap_path : the PNG to write (in the run directory).
    """

    def __init__(self, every_n_steps: int = 20, heatmap_path: str | Path = "layer_weights.png") -> None:
        self.every_n_steps = every_n_steps
        self.heatmap_path = Path(heatmap_path)

    def _log(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        metrics = {}
        for name, w in layer_weights(module).items():
            metrics.update({f"layer_weights/{name}/s{j}": v for j, v in enumerate(w["s"])})
            metrics[f"layer_weights/{name}/gamma"] = w["gamma"]
            metrics[f"layer_weights/{name}/center_of_gravity"] = w["center_of_gravity"]
        if metrics:
            for logger in trainer.loggers:
                logger.log_metrics(metrics, step=trainer.global_step)

    def on_train_batch_end(self, trainer: pl.Trainer, module: pl.LightningModule, *args: object) -> None:
        if trainer.global_step % self.every_n_steps == 0:
            self._log(trainer, module)

    def on_train_end(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        self._log(trainer, module)

    def write_heatmap(self, trainer: pl.Trainer, module: pl.LightningModule, title: str = "") -> Path | None:
        """Plot the module's current mixes (call it after the best checkpoint is loaded)."""
        if trainer.global_rank != 0:
            return None
        path = plot_layer_weights(layer_weights(module), self.heatmap_path, title)
        if path is not None:
            from pytorch_lightning.loggers import WandbLogger

            for logger in trainer.loggers:
                if isinstance(logger, WandbLogger):
                    logger.log_image(key="layer_weights/heatmap", images=[str(path)], caption=[title or "s_j"])
        return path


class ValidationHistory(pl.Callback):
    """Records every logged validation metric after each validation epoch of ``fit`` (not the sanity check, not a
    later ``validate``): ``history`` is a list of ``{"epoch", "step", "val/...": value}``, one per validation.
    It is part of the checkpoint (``state_dict``), so a resumed run keeps the epochs before the interruption.  The
    pipeline writes it into ``results.json`` (``history``), from which the report reads how many epochs a
    configuration needs to reach the baseline's best dev score."""

    def __init__(self) -> None:
        self.history: list[dict] = []

    def on_validation_end(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        if trainer.sanity_checking or trainer.state.fn != "fit" or trainer.global_rank != 0:
            return
        values = {k: float(v) for k, v in trainer.callback_metrics.items()
                  if k.startswith("val/") and getattr(v, "numel", lambda: 1)() == 1}
        entry = {"epoch": int(trainer.current_epoch) + 1, "step": int(trainer.global_step), **values}
        self.history = [h for h in self.history if h["epoch"] != entry["epoch"]] + [entry]

    def state_dict(self) -> dict:
        return {"history": list(self.history)}

    def load_state_dict(self, state_dict: dict) -> None:
        self.history = list(state_dict.get("history", []))
