"""What each layer encodes, across tasks: a task × representation table of scores and of selectivity, and the
center-of-gravity table (Tenney, Das & Pavlick 2019, Figure 1) — for any task and any encoder.

A configuration's **representation** is what its mix reads: ``layer j`` (``elmo.mix=layer``), ``0..k`` (the learned
mix of layers 0..k, ``elmo.max_layer=k``: cumulative scoring) or ``mix`` (the learned mix of every layer).  The
configurations of a task that differ only in their representation and in ``task.control_task`` form one
**family** (one encoder, trained or ``bilm.random_weights``, with the same probe settings): a row of the tables, so
two encoders of one sweep (or of several sweeps given together) sit side by side.  The score is the task's compared
metric (``Report.task_metric``: the test side of each run's objective, read from ``results.json``), so any task name
and metric (acc, f1, uas, ...) works.  Selectivity = score − the score of the same configuration trained on the
control task (Hewitt & Liang 2019), where the sweep has it.

Per family, from its runs' ``results.json``: ``E_s`` (center of gravity of the learned mix's raw weights), the
norm-weighted ``E_s`` (of each layer's share of the mix's magnitude on the test tokens, Fayyaz et al. 2021) and
``E_Δ`` (cumulative scoring: needs the scores of ``0..ℓ`` for every ℓ, i.e. ``layer 0``, ``0..1`` ... ``0..L−1`` and
``mix``; computed per seed, over the seeds every one of them has); each mean ± std over seeds
(``elmo_lab.metrics.layer_scores``).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from elmo_lab.metrics.layer_scores import center_of_gravity, cumulative_deltas, delta_center_of_gravity
from elmo_lab.report.format import markdown_table, mean_std_text
from elmo_lab.report.model import Report
from elmo_lab.report.runs import Config, difference
from elmo_lab.report.selectivity import CONTROL_KEY

REPRESENTATION_KEYS = frozenset({"elmo.mix", "elmo.layer", "elmo.max_layer"})
MIX = "mix"


def representation(config: Config) -> tuple[str, tuple[int, int]] | None:
    """``(label, sort key)`` of what the configuration's mix reads: ``("layer 1", (0, 1))``, ``("0..1", (1, 1))``,
    ``("mix", (2, 0))``; None for a configuration without a biLM or with another kind of mix."""
    s = config.settings
    if s.get("elmo.placement") in (None, "none"):
        return None
    mix, layer, upto = s.get("elmo.mix"), s.get("elmo.layer"), s.get("elmo.max_layer")
    if mix == "layer" and isinstance(layer, int):
        return f"layer {layer}", (0, layer)
    if mix == "all" and isinstance(upto, int):
        return f"0..{upto}", (1, upto)
    if mix == "all":
        return MIX, (2, 0)
    return None


@dataclass
class Family:
    """The configurations of one task and encoder that differ only by representation (and control task)."""

    task: str
    name: str
    metric: str
    real: dict[str, Config] = field(default_factory=dict)
    control: dict[str, Config] = field(default_factory=dict)

    def score(self, rep: str) -> tuple[float | None, float | None]:
        config = self.real.get(rep)
        return (None, None) if config is None else config.mean_std(self.metric)[:2]

    def selectivity(self, rep: str) -> tuple[float | None, float | None]:
        """Score minus control score (difference of the means) and the standard error of the difference."""
        if rep not in self.real or rep not in self.control:
            return None, None
        d = difference(self.real[rep], self.control[rep], self.metric)
        return (None, None) if d is None else (d.delta, d.se)


def families(report: Report) -> tuple[list[Family], list[str]]:
    """The families of the report (in its order) and every representation found, in column order."""
    found: dict[str, Family] = {}
    keys: dict[str, tuple[int, int]] = {}
    for c in report.configs:
        rep = representation(c)
        if rep is None:
            continue
        keys[rep[0]] = rep[1]
        key = c.key_without(REPRESENTATION_KEYS | {CONTROL_KEY})
        if key not in found:
            name = report.label(c, without=REPRESENTATION_KEYS | {CONTROL_KEY})
            found[key] = Family(c.task, c.task if name == c.task else f"{c.task} · {name}", report.task_metric[c.task])
        side = found[key].control if c.settings.get(CONTROL_KEY) is True else found[key].real
        side[rep[0]] = c
    return list(found.values()), sorted(keys, key=keys.get)


def _mean_std(values: list[float]) -> tuple[float | None, float | None, int]:
    if not values:
        return None, None, 0
    return float(np.mean(values)), (float(np.std(values, ddof=1)) if len(values) > 1 else None), len(values)


def cumulative_scores(family: Family) -> dict[object, dict[int, float]]:
    """``{seed: {ℓ: score(0..ℓ)}}`` for the seeds that have every ℓ = 0..L (L from the mix's weights); empty when
    the family lacks one of them.  ``score(0..0)`` is ``layer 0`` (or ``0..0``), ``score(0..L)`` the mix."""
    mix = family.real.get(MIX)
    weights = mix.mean_layer_weights() if mix is not None else {}
    if not weights:
        return {}
    top = len(next(iter(weights.values()))[0]) - 1
    steps = {0: family.real.get("0..0") or family.real.get("layer 0"), top: mix}
    steps.update({k: family.real.get(f"0..{k}") for k in range(1, top)})
    if top < 1 or any(c is None for c in steps.values()):
        return {}
    per_seed = [{r.seed: r.metrics.get(family.metric) for r in steps[k].runs} for k in range(top + 1)]
    seeds = [s for s in per_seed[0] if all(per.get(s) is not None for per in per_seed)]
    return {s: {k: float(per_seed[k][s]) for k in range(top + 1)} for s in seeds}


@dataclass
class Gravity:
    """One row of the center-of-gravity table: a family's mix (one of its mixes: input/output)."""

    family: Family
    mix_name: str
    e_s: tuple[float | None, float | None, int]
    e_norm: tuple[float | None, float | None, int]
    e_delta: tuple[float | None, float | None, int]
    deltas: list[float]  # mean Δ(ℓ), ℓ = 1..L, over the seeds E_Δ uses


def gravity_rows(family: Family) -> list[Gravity]:
    """E_s, the norm-weighted E_s and E_Δ of the family's learned mix (one row per mix name it has)."""
    mix = family.real.get(MIX)
    if mix is None:
        return []
    cumulative = cumulative_scores(family)
    e_delta = [v for v in (delta_center_of_gravity(scores) for scores in cumulative.values()) if v is not None]
    deltas = [cumulative_deltas(scores) for scores in cumulative.values()]
    mean_deltas = [float(np.mean([d[k] for d in deltas])) for k in sorted(deltas[0])] if deltas else []
    rows = []
    for name in dict.fromkeys(n for r in mix.runs for n in r.data["layer_weights"]):
        entries = [r.data["layer_weights"][name] for r in mix.runs if name in r.data["layer_weights"]]
        e_s = [center_of_gravity(e["s"]) for e in entries]
        e_norm = [center_of_gravity(e["share"]) for e in entries if sum(e.get("share") or []) > 0]
        rows.append(Gravity(family, name, _mean_std(e_s), _mean_std(e_norm), _mean_std(e_delta), mean_deltas))
    return rows


def _cell(mean: float | None, std: float | None, digits: int = 4) -> str:
    return mean_std_text(mean, std, digits)


def layer_sections(report: Report) -> str | None:
    """``## What each layer encodes``: the task × representation scores and selectivity (where a family has two
    or more representations), and the center-of-gravity table (where a family has a learned mix)."""
    fams, reps = families(report)
    parts = []
    if any(len(f.real) > 1 for f in fams):
        header = ["task · encoder", "metric"] + reps
        parts.append("### Score per representation\n\n" + markdown_table(
            header, [[f.name, f.metric] + [_cell(*f.score(r)) if r in f.real else "" for r in reps] for f in fams]))
        if any(f.control for f in fams):
            rows = [[f.name, f.metric] + [_cell(*f.selectivity(r)) if r in f.control else "" for r in reps]
                    for f in fams if f.control]
            parts.append("### Selectivity per representation\n\n" + markdown_table(header, rows)
                         + "\n\nScore − the score of the same probe trained on the control task (Hewitt & Liang "
                           "2019), ± the standard error of the difference over seeds.")
    gravity = [g for f in fams for g in gravity_rows(f)]
    if gravity:
        rows = [[g.family.name, g.mix_name, str(g.e_s[2]), _cell(*g.e_s[:2], 2), _cell(*g.e_norm[:2], 2),
                 _cell(*g.e_delta[:2], 2) if g.e_delta[2] else "—",
                 ", ".join(f"{d:+.4f}" for d in g.deltas) or "—"] for g in gravity]
        parts.append("### Center of gravity\n\n" + markdown_table(
            ["task · encoder", "mix", "n", "E_s (weights)", "E_s (norm-weighted)", "E_Δ", "Δ(1), Δ(2), ..."], rows)
            + "\n\nE_s = Σ ℓ·s_ℓ of the learned mix's softmax weights (layer 0 = the token layer); norm-weighted: the "
              "same of each layer's share s_ℓ·mean‖h_ℓ‖ of the mix's magnitude on the test tokens (Fayyaz et al. "
              "2021: raw weights mislead when the layers' norms differ); E_Δ = Σ ℓΔ(ℓ) / Σ Δ(ℓ) with Δ(ℓ) = score of "
              "the mix of layers 0..ℓ − score of 0..ℓ−1 (cumulative scoring, probe=upto<ℓ>; Tenney, Das & Pavlick "
              "2019), per seed. Mean ± std over seeds.")
    mdl = mdl_section(fams, reps)
    if mdl:
        parts.append(mdl)
    if not parts:
        return None
    return "## What each layer encodes\n\n" + "\n\n".join(parts)


def mdl_values(config: Config, key: str) -> list[float]:
    """``mdl.<key>`` of each run of ``config`` that measured its online code length (``task.mdl=true``)."""
    return [float(r.data["mdl"][key]) for r in config.runs
            if isinstance(r.data.get("mdl"), dict) and r.data["mdl"].get(key) is not None]


def mdl_section(fams: list[Family], reps: list[str]) -> str | None:
    """``### Description length``: per family (real and control task) and representation, the online code length
    of the training labels in kbits and its compression, mean ± std over seeds, where runs measured it."""
    rows = []
    for f in fams:
        for side, configs in (("", f.real), (" · control task", f.control)):
            if not any(mdl_values(c, "online_codelength_kbits") for c in configs.values()):
                continue
            cells = []
            for r in reps:
                bits = _mean_std(mdl_values(configs[r], "online_codelength_kbits")) if r in configs else (None,) * 3
                ratio = _mean_std(mdl_values(configs[r], "compression")) if r in configs else (None,) * 3
                cells.append("" if bits[0] is None else f"{_cell(*bits[:2], 2)} ({_cell(*ratio[:2], 2)}×)")
            rows.append([f.name + side] + cells)
    if not rows:
        return None
    return ("### Description length (MDL)\n\n" + markdown_table(["task · encoder"] + reps, rows)
            + "\n\nThe online code length of the training labels in kbits (Voita & Titov 2020; `task.mdl=true`) and, "
              "in brackets, the compression (uniform code length / online code length); mean ± std over seeds. "
              "Shorter codes (higher compression) mean labels that are easier to read off the representation; "
              "the control-task rows show what a probe can memorise.")
