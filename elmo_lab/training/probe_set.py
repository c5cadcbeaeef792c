"""A probe-set job (``probe_set.probes``): several probes of one task and one frozen encoder trained side by side over
one pass of its cached layers — how ``experiment=probe_suite`` trains hundreds of probes in minutes.

Each probe (a representation ``layer<j>``, ``upto<j>`` or ``mix`` × a ``task.control_task`` value × a seed) is the run
that one job would be (``python train.py experiment=probe_layers probe=layer1 task.control_task=true seed=2``): its own
run directory, named as that job names it, with the same ``run_config.yaml``, ``results.json``, predictions and
per-example scores, and the same numbers — the same initial weights (the model is built right after
``seed_everything(seed)``, as the pipeline builds it), the same batches in the same order (the datamodule's own
loader, told the epoch), the same per-step reseeding, optimizer and gradient clipping, the same model selection (the
first epoch with the best ``optimized_metric`` among those scored on dev — every epoch, or every n-th with
``trainer.check_val_every_n_epoch`` as Lightning counts it — then dev and test on those weights).  A test checks the
numbers against single runs.

What the job shares instead of repeating it per probe: Python and torch start-up, the data (read once per control
setting), the encoder and its cached layers, and each batch: a training batch is collated and its layers assembled
once for every probe of its seed (every representation and control setting: the control task changes the labels
only, so the loaders of both settings give the same sentences), and dev/test batches once for the whole job.  The
probes' losses are summed into one backward pass; each probe keeps its own optimizer (their parameters are disjoint,
so each probe's gradients and steps are exactly its own).

Without Lightning's Trainer there are no checkpoints (an interrupted job trains again the probes that have no
``results.json``; a probe takes seconds), no CSV/wandb loggers (``results.json`` holds each probe's per-epoch dev
history) and no per-run layer-weight heatmap; ``validate_probe_set`` refuses, at composition, the settings that
would need them.  The job's own folder holds ``probe_set.json``: each probe, its run directory and whether this job
trained it or found it finished.
"""
from __future__ import annotations

import copy
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import pytorch_lightning as pl
import torch
from omegaconf import DictConfig, OmegaConf, open_dict
from tqdm import tqdm

from elmo_lab.config.probes import ProbeSetConfig, probe_elmo_settings, probe_run_name, probe_set_choices
from elmo_lab.config.schema import ConfigError, validate
from elmo_lab.elmo.placements import ElmoSettings
from elmo_lab.elmo.provider import LAYERS, ContextualLayers
from elmo_lab.run.run_dir import prepare_run_dir
from elmo_lab.training.callbacks import measure_layer_norms
from elmo_lab.training.module import ElmoTaskModule
from elmo_lab.training.results import RESULTS_FILE, write_json_atomic, write_run_results
from elmo_lab.training.tasks import load_task
from elmo_lab.util.seeding import reseed_for_step

SUMMARY_FILE = "probe_set.json"


@dataclass
class Probe:
    """One probe of the set: its representation, control setting, seed, config and run directory."""

    choice: str
    control: bool
    seed: int
    cfg: DictConfig
    plain: dict
    run_dir: Path
    model: ElmoTaskModule | None = None
    optimizer: torch.optim.Optimizer | None = None
    best: tuple[float, dict] | None = None  # (objective, trainable state) of the best epoch so far
    history: list | None = None


def probe_config(cfg: DictConfig, choice: str, control: bool, seed: int, folder: Path) -> DictConfig:
    """The config of one probe: ``cfg`` with the representation, control setting and seed set, ``probe_set`` back at
    its default, and the run name and directory that a job of its own would have."""
    out = copy.deepcopy(cfg)
    with open_dict(out):
        out.elmo.update(probe_elmo_settings(choice))
        out.seed = seed
        if "control_task" in out.task:
            out.task.control_task = control
        out.probe_set = OmegaConf.structured(ProbeSetConfig())
        e = out.elmo
        out.run_name = probe_run_name(e.mix, e.layer, out.bilm.random_weights, control, "input", None,
                                      e.max_layer) + f"-seed{seed}"
        out.paths.output_dir = str(folder / out.run_name)
    return out


def plan(cfg: DictConfig) -> list[Probe]:
    """Every probe of ``cfg.probe_set``, checked (schema, task, an existing run directory's config) before anything
    is written: seed by seed, control setting, representation."""
    folder = Path(cfg.paths.output_dir).parent
    choices = probe_set_choices(cfg.probe_set.probes)
    task = load_task(cfg.task.module)
    probes = []
    for seed in cfg.probe_set.seeds:
        for control in cfg.probe_set.control_task:
            for choice in choices:
                c = probe_config(cfg, choice, bool(control), int(seed), folder)
                validate(c)
                plain = OmegaConf.to_container(c, resolve=True, enum_to_str=True)
                if task.check is not None:
                    task.check(plain)
                prepare_run_dir(Path(c.paths.output_dir), plain, c.force, writer=False)
                probes.append(Probe(choice, bool(control), int(seed), c, plain, Path(c.paths.output_dir)))
    return probes


def _batches(loader: Any, elmo: ContextualLayers, module: ElmoTaskModule, device: torch.device) -> Iterator[dict]:
    """The loader's batches on ``device``, each holding its encoder layers (``LAYERS``, computed once)."""
    for batch in loader:
        batch = module.transfer_batch_to_device(batch, device, 0)
        batch[LAYERS] = elmo.layers_of(batch)  # (batch, L + 1, time, dim)
        yield batch


def _evaluate(model: ElmoTaskModule, batches: list[dict], split: str, records: list | None = None) -> dict:
    """Lightning's validation/test pass of ``model`` over ``batches``: the metrics and the loss (the mean over
    batches weighted by their sizes), prefixed ``val/`` or ``test/``; test prediction records into ``records``."""
    metrics = model.val_metrics if split == "val" else model.test_metrics
    model.eval()
    loss_sum, examples = 0.0, 0
    with torch.inference_mode():
        model.elmo.reset_state()
        for batch in batches:
            loss, preds, targets = model.step(batch)
            metrics.update(preds, targets)
            n = model.batch_size(batch)
            loss_sum, examples = loss_sum + float(loss) * n, examples + n
            if records is not None:
                found = model.prediction_records(batch, preds)
                if found is not None:
                    records.extend(zip(batch["index"].tolist(), found))
    out = {k: float(v) for k, v in metrics.compute().items()}
    metrics.reset()
    return {f"{split}/loss": loss_sum / max(examples, 1), **out}


def _better(value: float, best: tuple[float, dict] | None, mode: str) -> bool:
    return best is None or (value > best[0] if mode == "max" else value < best[0])


def train_probe_set(cfg: DictConfig) -> float | None:
    """Train every probe of ``cfg.probe_set`` that has no ``results.json`` (all of them with ``force``); write each
    one's run directory and the job's ``probe_set.json``.  Returns the mean ``optimized_metric`` over the probes."""
    start = time.perf_counter()
    probes = plan(cfg)
    todo = [p for p in probes if cfg.force or not (p.run_dir / RESULTS_FILE).is_file()]
    for p in probes:
        if p not in todo:
            print(f"run already finished: {p.run_dir / RESULTS_FILE}; force=true reruns it")
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    torch.use_deterministic_algorithms(bool(cfg.trainer.get("deterministic", False)))
    if todo:
        _train(cfg, todo)
    objective = str(cfg.optimized_metric)
    values = {}
    for p in probes:
        values[str(p.run_dir)] = json.loads((p.run_dir / RESULTS_FILE).read_text())["metrics"].get(objective)
    summary = {"task": str(cfg.task.name), "objective": objective, "seconds": round(time.perf_counter() - start, 1),
               "probes": [{"run_dir": str(p.run_dir), "probe": p.choice, "control_task": p.control, "seed": p.seed,
                           "trained": p in todo, objective: values[str(p.run_dir)]} for p in probes]}
    Path(cfg.paths.output_dir).mkdir(parents=True, exist_ok=True)
    write_json_atomic(Path(cfg.paths.output_dir) / SUMMARY_FILE, summary)
    print(f"probe set: {len(todo)} trained, {len(probes) - len(todo)} already finished, "
          f"{summary['seconds']:.0f} s; {Path(cfg.paths.output_dir) / SUMMARY_FILE}")
    known = [v for v in values.values() if v is not None]
    return sum(known) / len(known) if known else None


def _train(cfg: DictConfig, todo: list[Probe]) -> None:
    """Build the encoder and the data once, then train the probes seed by seed (module docstring)."""
    task = load_task(cfg.task.module)
    first = todo[0].plain
    elmo = ContextualLayers.from_config(first["bilm"], needed=True)
    if elmo.encoder is None or elmo.encoder.adapts:
        raise ConfigError("bilm: a probe-set job reads one frozen encoder; bilm.finetune is not for it")
    accelerator = str(cfg.trainer.get("accelerator", "cpu"))
    device = torch.device("cuda" if accelerator in ("gpu", "cuda") or (accelerator == "auto" and
                                                                      torch.cuda.is_available()) else "cpu")
    elmo.to(device)
    controls = sorted({p.control for p in todo})
    data = {}
    for control in controls:  # one datamodule per control setting (its labels)
        plain = next(p.plain for p in todo if p.control == control)
        dm = task.datamodule(plain["task"], seed=int(plain["seed"]), encoder_input=elmo.batch_input)
        dm.setup()
        if elmo.cache is not None:
            elmo.cache.add(dm.all_sequences())
        data[control] = dm
    clip = cfg.trainer.get("gradient_clip_val")
    epochs = int(cfg.trainer.max_epochs)
    mode = str(cfg.task.get("objective_mode", "max"))
    objective = str(cfg.optimized_metric)
    every = int(cfg.trainer.get("check_val_every_n_epoch") or 1)
    for p in todo:
        dm = data[p.control]
        pl.seed_everything(p.seed, workers=True, verbose=False)  # as the pipeline: right before the model
        info = {**dm.model_info(), "word_vectors": dm.word_vectors}
        p.model = task.module(task=p.plain["task"], elmo=elmo, settings=ElmoSettings.from_config(p.plain["elmo"]),
                              data_info=info, seed=p.seed).to(device)
        p.optimizer = p.model.configure_optimizers()
        p.history = []
        prepare_run_dir(p.run_dir, p.plain, p.cfg.force, True, (RESULTS_FILE, *task.module.prediction_files))
    lead = todo[0].model
    evals = {(c, split): list(_batches(loader(), elmo, lead, device)) for c in controls
             for split, loader in (("val", data[c].val_dataloader), ("test", data[c].test_dataloader))}
    bar_on = bool(cfg.trainer.get("enable_progress_bar", True))
    for seed in sorted({p.seed for p in todo}):
        group = [p for p in todo if p.seed == seed]
        group_controls = sorted({p.control for p in group})
        loaders = {}
        for c in group_controls:
            data[c].seed = seed
            loaders[c] = data[c].train_dataloader()
        step = 0
        for epoch in range(epochs):
            for c in group_controls:
                data[c].epoch = epoch
            for p in group:
                p.model.train()
                p.model.elmo.reset_state()
            batches = zip(*(loaders[c] for c in group_controls))
            total = len(loaders[group_controls[0]])
            for parts in tqdm(batches, total=total, desc=f"seed {seed} epoch {epoch + 1}/{epochs}", leave=False,
                              disable=not bar_on):
                by_control = dict(zip(group_controls, parts))
                base = lead.transfer_batch_to_device(by_control[group_controls[0]], device, 0)
                layers = elmo.layers_of(base)  # (batch, L + 1, time, dim): once for every probe of the batch
                for c in group_controls:
                    b = base if c == group_controls[0] else lead.transfer_batch_to_device(by_control[c], device, 0)
                    if not torch.equal(b["index"], base["index"]):
                        raise RuntimeError("probe set: the control settings' loaders gave different batches")
                    b[LAYERS] = layers
                    by_control[c] = b
                reseed_for_step(seed, step)
                loss = sum(sum(p.model.training_loss(by_control[p.control])) for p in group)
                loss.backward()
                for p in group:
                    if clip:
                        torch.nn.utils.clip_grad_norm_([q for q in p.model.parameters() if q.requires_grad],
                                                       float(clip))
                    p.optimizer.step()
                    p.optimizer.zero_grad(set_to_none=True)
                step += 1
            if (epoch + 1) % every:
                continue  # no dev pass after this epoch (Lightning's check_val_every_n_epoch)
            scores = []
            for p in group:
                values = _evaluate(p.model, evals[(p.control, "val")], "val")
                p.history.append({"epoch": epoch + 1, "step": step, **values})
                if _better(values[objective], p.best, mode):
                    p.best = (values[objective], copy.deepcopy(p.model.state_dict()))
                scores.append(f"{p.choice}{'-control' if p.control else ''} {values[objective]:.4f}")
            print(f"seed {seed} epoch {epoch + 1}/{epochs} {objective}: " + ", ".join(scores))
        for p in group:
            _finish(cfg, task, data[p.control], p, evals)


def _finish(cfg: DictConfig, task: Any, dm: Any, p: Probe, evals: dict) -> None:
    """The best epoch's weights back, the final dev (and test) pass, and the probe's run directory written."""
    p.model.load_state_dict(p.best[1])
    norms_split = "test" if cfg.test else "dev"
    measure_layer_norms(p.model, on=not cfg.test)
    metrics = _evaluate(p.model, evals[(p.control, "val")], "val")
    if cfg.test:
        measure_layer_norms(p.model)
        records: list = []
        metrics.update(_evaluate(p.model, evals[(p.control, "test")], "test", records))
        if records:
            p.model.write_test_outputs(records, p.run_dir)
    write_run_results(p.run_dir, p.plain, task, dm, p.model, metrics, p.history, norms_split)
    p.model, p.optimizer, p.best = None, None, None  # this seed's models are done: free them
