"""The ``probe`` verb: linear probes on a frozen model's embeddings and attention, scored per layer."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

import numpy as np
import pandas as pd
import torch

from plmscope import options as opt
from plmscope.analysis.features import check_contact_options
from plmscope.analysis.provis_probing import (
    PROVIS_PROBE_SETTINGS,
    PROVIS_RESULT_COLUMNS,
    ProvisProbeJob,
    provis_probe_gravity,
    provis_probe_jobs,
    provis_probe_row,
    provis_record_labels,
    train_provis_probe,
)
from plmscope.analysis.semantics import Semantics, check_semantics, inference_dtype, probe_layers
from plmscope.analysis.probing import (
    SS_CLASSES,
    TASK_METRICS,
    TASKS,
    TOP_K_DIVISORS,
    attention_pair_features,
    binary_f1,
    candidate_pairs,
    chance_pooled_precision,
    embedding_pair_features,
    make_probe,
    pooled_precision_at_k,
    sample_pairs,
    split_proteins,
    ss_codes,
    top_k_size,
)
from plmscope.data.contacts import pair_contacts
from plmscope.data.table import ProteinRecord, read_proteins
from plmscope.errors import PlmscopeError
from plmscope.options import DType
from plmscope.outputs import output_directory, save_figure, write_json, write_tables
from plmscope.progress import Progress, note

log = logging.getLogger(__name__)

RESULT_COLUMNS: tuple[str, ...] = (
    "semantics", "probe", "task", "layer", "metric", "score", "chance", "n_train", "n_train_positive", "n_valid",
    "n_valid_positive", "n_valid_proteins", "converged",
)  # fmt: skip
"""Columns of ``probing.csv`` under plmscope semantics (``semantics`` is ``plmscope``; provis:
:data:`plmscope.analysis.provis_probing.PROVIS_RESULT_COLUMNS`): ``probe`` is ``embedding`` or ``attention``; ``layer`` 0 is the
embedding output and ``l`` >= 1 the output (or attention) of transformer layer ``l`` (1-based);
``chance`` is the metric's expectation without information (F1: the validation positive rate,
the F1 of random guesses at that rate; precision@k: the positive rate among the candidates)."""

SCORE_CHUNK = 65_536
"""Residue pairs scored at a time on the validation proteins (bounds memory of pair features)."""


@dataclass
class _Protein:
    """Labels of one analysed protein (truncated to the model's limit)."""

    id: str
    split: str
    sequence: str
    ss: np.ndarray | None = None
    sites: np.ndarray | None = None
    token_index: np.ndarray | None = None
    pair_i: np.ndarray | None = None
    pair_j: np.ndarray | None = None
    pair_y: np.ndarray | None = None

    @property
    def length(self) -> int:
        return len(self.sequence)


@dataclass
class _Features:
    """Features gathered in one pass over the proteins, per layer, keyed by protein id."""

    token_train: dict[int, dict[str, np.ndarray]] = field(default_factory=dict)
    embed_valid: dict[int, dict[str, np.ndarray]] = field(default_factory=dict)
    pair_train: dict[int, dict[str, np.ndarray]] = field(default_factory=dict)
    attention: dict[int, dict[str, np.ndarray]] = field(default_factory=dict)


def run_probing(
    proteins_path: str | Path,
    output_dir: str | Path,
    *,
    model: str,
    valid_proteins_path: str | Path | None = None,
    valid_fraction: float = opt.PROBE_VALID_FRACTION,
    seed: int = 0,
    tasks: Iterable[str] | None = None,
    max_pairs_per_protein: int | None = 200,
    max_residues_per_protein: int | None = None,
    C: float = 1.0,
    max_iter: int = 1000,
    contact_cutoff: float = opt.CONTACT_CUTOFF,
    contact_min_separation: int = 6,
    max_residues: int = opt.MAX_RESIDUES,
    max_tokens: int = 4096,
    layers_per_pass: int | None = None,
    device: str = "auto",
    dtype: DType = "auto",
    threads: int | None = None,
    dpi: int = 150,
    semantics: Semantics = "plmscope",
    max_epochs: int | None = None,
) -> dict[str, Any]:
    """Train linear probes on the training proteins and score them on the validation proteins.

    ``semantics="provis"`` hands over to :func:`run_provis_probing` (the authors' probes; a
    validation table is required; ``valid_fraction``, ``seed``, the subsampling options, ``C`` and
    ``max_iter`` do not apply there). The rest of this docstring describes plmscope's probes.

    Embedding probes (every layer, the embedding output included): secondary structure one-vs-all
    (helix, strand, turn_bend; F1), binding sites (precision@L/20), contacts from pair features
    ``[h_i * h_j, |h_i - h_j|]`` (precision@L/5 over pairs with ``|i - j| >= contact_min_separation``).
    Attention probes (every layer): contacts from the symmetrised attention of the layer's heads
    at (i, j). Every probe is :func:`plmscope.analysis.probing.make_probe` (logistic regression).

    Args:
        proteins_path: protein table; the training proteins (all of them when
            ``valid_proteins_path`` is given, else a seeded split).
        output_dir: directory (replaced as a whole) receiving ``probing.parquet``/``.csv``
            (:data:`RESULT_COLUMNS`), ``split.csv``, ``probing.png``/``.svg`` and ``meta.json``.
        model: model name or directory (:func:`plmscope.models.registry.load_adapter`).
        valid_proteins_path: validation protein table; None to split ``proteins_path``.
        valid_fraction: share of proteins held out when splitting (stratified by binding-site
            annotation so both splits get some).
        seed: seed of the split, the pair and residue subsamples and the probes.
        tasks: subset of :data:`plmscope.analysis.probing.TASKS`; None for all.
        max_pairs_per_protein: residue pairs sampled per training protein for the contact probes
            (uniformly among pairs with both coordinates and ``|i - j| >= contact_min_separation``);
            None for all. Validation proteins always score every such pair.
        max_residues_per_protein: residues sampled per training protein for the residue probes;
            None for all.
        C: inverse L2 regularisation strength of the logistic regressions.
        max_iter: iteration limit of the logistic regressions (lbfgs).
        contact_cutoff: CA-CA distance in Å below which a pair is a contact.
        contact_min_separation: minimum ``|i - j|`` of the contact pairs trained and scored.
        max_residues: longest sequence run through the model (longer ones are truncated).
        max_tokens: padded-token budget per model batch.
        layers_per_pass: layers whose features are held in memory at once (the model runs once
            per group of layers); None for all layers in one pass.
        device: torch device (``"auto"``, ``"cpu"``, ``"cuda"``...).
        dtype: model weights dtype.
        threads: CPU threads for torch and the BLAS of the probes; None leaves the libraries'
            defaults. Set it on a shared machine: oversubscribed BLAS threads slow the
            logistic regressions down tenfold.
        dpi: PNG resolution of the figure.
        semantics: ``plmscope`` (these probes) or ``provis`` (:func:`run_provis_probing`).
        max_epochs: provis only: cap on the training epochs of each probe.

    Returns:
        A summary: output directory, numbers of training/validation proteins, and per task the
        best layer of each probe with its score.

    Raises:
        PlmscopeError: unreadable tables, overlapping training/validation ids, an unknown task,
            an invalid option, or no task with labelled proteins on both sides of the split.
    """
    if check_semantics(semantics) == "provis":
        return run_provis_probing(
            proteins_path, output_dir, model=model, valid_proteins_path=valid_proteins_path, tasks=tasks,
            contact_cutoff=contact_cutoff, contact_min_separation=contact_min_separation, max_residues=max_residues,
            max_tokens=max_tokens, layers_per_pass=layers_per_pass, max_epochs=max_epochs, device=device, dtype=dtype,
            threads=threads, dpi=dpi,
        )  # fmt: skip
    started = time.perf_counter()
    chosen = _check_tasks(tasks)
    _check_options(contact_cutoff=contact_cutoff, contact_min_separation=contact_min_separation, C=C,
                   max_iter=max_iter, seed=seed, max_pairs_per_protein=max_pairs_per_protein,
                   max_residues_per_protein=max_residues_per_protein, layers_per_pass=layers_per_pass,
                   threads=threads)  # fmt: skip

    from plmscope.models.registry import load_adapter

    output_dir = Path(output_dir)
    train_records, valid_records = _split(proteins_path, valid_proteins_path, valid_fraction=valid_fraction, seed=seed)
    with _thread_limit(threads):
        adapter = load_adapter(model, max_residues=max_residues, device=device, dtype=dtype)
        log.info("loaded %r (%d layers x %d heads); %d training and %d validation proteins", model,
                 adapter.num_layers, adapter.num_heads, len(train_records), len(valid_records))  # fmt: skip
        rng = np.random.default_rng(seed)
        proteins = [
            _labels(r, split, limit=adapter.max_residues, chosen=chosen, rng=rng, max_pairs=max_pairs_per_protein,
                    max_tokens=max_residues_per_protein, cutoff=contact_cutoff, min_separation=contact_min_separation)
            for split, records in (("train", train_records), ("valid", valid_records))
            for r in records
        ]  # fmt: skip
        usable, skipped = _usable_tasks(proteins, chosen)
        table = _probe_layers(adapter, proteins, usable, max_tokens=max_tokens, layers_per_pass=layers_per_pass, C=C,
                              max_iter=max_iter, seed=seed)  # fmt: skip

    from plmscope.viz.paper_plots import plot_probing

    figure = plot_probing(table, title=f"{model}: linear probes (validation)")
    split = pd.DataFrame({"protein_id": [p.id for p in proteins], "split": [p.split for p in proteins],
                          "n_residues": [p.length for p in proteins]})  # fmt: skip
    meta = _meta(model=model, proteins_path=proteins_path, valid_proteins_path=valid_proteins_path,
                 valid_fraction=valid_fraction, seed=seed, usable=usable, skipped=skipped, C=C, max_iter=max_iter,
                 max_pairs_per_protein=max_pairs_per_protein, max_residues_per_protein=max_residues_per_protein,
                 contact_cutoff=contact_cutoff, contact_min_separation=contact_min_separation, adapter=adapter,
                 proteins=proteins, started=started)  # fmt: skip
    with output_directory(output_dir) as tmp:
        write_tables(tmp, {"probing": table})
        split.to_csv(tmp / "split.csv", index=False)
        save_figure(figure, tmp, "probing", dpi=dpi)
        write_json(tmp / "meta.json", meta)
    return {
        "output": str(output_dir),
        "semantics": "plmscope",
        "train_proteins": meta["n_train_proteins"],
        "valid_proteins": meta["n_valid_proteins"],
        "best": _best(table),
        "seconds": meta["seconds"],
    }



def run_provis_probing(
    proteins_path: str | Path,
    output_dir: str | Path,
    *,
    model: str,
    valid_proteins_path: str | Path | None,
    tasks: Iterable[str] | None = None,
    contact_cutoff: float = opt.CONTACT_CUTOFF,
    contact_min_separation: int = 6,
    max_residues: int = opt.MAX_RESIDUES,
    max_tokens: int = 4096,
    layers_per_pass: int | None = None,
    max_epochs: int | None = None,
    device: str = "auto",
    dtype: DType = "auto",
    threads: int | None = None,
    dpi: int = 150,
) -> dict[str, Any]:
    """Probe as the authors did (provis semantics, issue #14): linear layers trained with AdamW and early stopping.

    Every probe of :func:`plmscope.analysis.provis_probing.provis_probe_jobs` is trained on the
    outputs of layers 1..N with :func:`plmscope.analysis.provis_probing.train_provis_probe` on the
    proteins of ``proteins_path`` (TAPE's train split) and evaluated on ``valid_proteins_path``
    (TAPE's valid split, which also drives early stopping, as in provis). Features are written to a
    scratch directory beside ``output_dir`` and read one protein at a time, so large splits fit in memory.

    Args:
        proteins_path, output_dir, model, tasks, contact_cutoff, contact_min_separation, max_residues,
            max_tokens, layers_per_pass, device, threads, dpi: as in :func:`run_probing`.
        valid_proteins_path: validation protein table (required).
        max_epochs: cap on the epochs of every probe (None: provis's 50).
        dtype: must be float32 or ``"auto"`` (provis ran float32).

    Returns:
        Summary as :func:`run_probing`'s, with ``semantics`` ``provis``.

    Raises:
        PlmscopeError: no validation table, overlapping tables, an unknown task, an invalid option,
            or no probe with labelled proteins in both tables.
    """
    started = time.perf_counter()
    if valid_proteins_path is None:
        raise PlmscopeError("semantics 'provis' evaluates on TAPE's valid split: give --valid-proteins (a validation table)")
    jobs = provis_probe_jobs(_check_tasks(tasks))
    _check_options(contact_cutoff=contact_cutoff, contact_min_separation=contact_min_separation, C=1.0, max_iter=1,
                   seed=0, threads=threads, layers_per_pass=layers_per_pass, max_epochs=max_epochs)  # fmt: skip
    settings = {j.name: _epochs(PROVIS_PROBE_SETTINGS[j.settings], max_epochs) for j in jobs}
    from plmscope.models.registry import load_adapter

    output_dir = Path(output_dir)
    train_records, valid_records = _split(proteins_path, valid_proteins_path, valid_fraction=0.5, seed=0)
    with _thread_limit(threads):
        adapter = load_adapter(model, max_residues=max_residues, device=device, dtype=inference_dtype("provis", dtype))
        proteins = [
            (split, r.id, r.sequence[: adapter.max_residues],
             provis_record_labels(r, jobs, limit=adapter.max_residues, n_special=adapter.n_special, cutoff=contact_cutoff,
                                  min_separation=contact_min_separation))
            for split, records in (("train", train_records), ("valid", valid_records)) for r in records
        ]  # fmt: skip
        jobs, skipped = _provis_usable(jobs, proteins)
        layers = probe_layers(adapter.num_layers, semantics="provis")
        step = len(layers) if layers_per_pass is None else int(layers_per_pass)
        rows = []
        with tempfile.TemporaryDirectory(prefix=".provis-probe-", dir=output_dir.parent) as scratch:
            for start in range(0, len(layers), step):
                group = layers[start : start + step]
                store = _provis_features(adapter, proteins, group, jobs, Path(scratch), max_tokens=max_tokens)
                for layer in group:
                    for job in jobs:
                        rows.append(_provis_probe(job, layer, proteins, store, settings[job.name], device=str(adapter.device)))
                note(f"provis probes trained on layers {group[0]}-{group[-1]} of {layers[0]}-{layers[-1]}")
    table = pd.DataFrame(rows, columns=list(PROVIS_RESULT_COLUMNS))
    gravity = provis_probe_gravity(table, adapter.num_layers)

    from plmscope.viz.paper_plots import plot_probing

    figure = plot_probing(table, title=f"{model}: provis linear probes (TAPE valid split)")
    split = pd.DataFrame({"protein_id": [p[1] for p in proteins], "split": [p[0] for p in proteins],
                          "n_residues": [len(p[2]) for p in proteins]})  # fmt: skip
    meta = {
        "semantics": "provis", "model": model, "proteins": str(proteins_path), "valid_proteins": str(valid_proteins_path),
        "tasks": sorted({j.task for j in jobs}), "skipped_probes": skipped,
        "layers": f"1..{adapter.num_layers}: 'layer' is the 1-based number of the transformer layer whose output "
                  "(hidden state, or attention for the attention probe) was probed; no embedding-layer (0) probe",
        "gravity": "probing_gravity.csv: center_of_gravity_0based is provis's 0-based layer index (layer 1 -> 0)",
        "score": "metric on the validation table at the epoch of lowest validation loss (which also stops training)",
        "settings": {name: dataclasses.asdict(s) for name, s in settings.items() if any(j.name == name for j in jobs)},
        "max_epochs": max_epochs, "contact_cutoff": contact_cutoff, "contact_min_separation": contact_min_separation,
        "max_residues": adapter.max_residues, "num_layers": adapter.num_layers, "num_heads": adapter.num_heads,
        "n_train_proteins": len(train_records), "n_valid_proteins": len(valid_records),
        "seconds": round(time.perf_counter() - started, 3),
    }  # fmt: skip
    with output_directory(output_dir) as tmp:
        write_tables(tmp, {"probing": table, "probing_gravity": gravity})
        split.to_csv(tmp / "split.csv", index=False)
        save_figure(figure, tmp, "probing", dpi=dpi)
        write_json(tmp / "meta.json", meta)
    return {"output": str(output_dir), "semantics": "provis", "train_proteins": len(train_records),
            "valid_proteins": len(valid_records), "best": _best(table), "seconds": meta["seconds"]}  # fmt: skip


def _epochs(settings, max_epochs: int | None):
    """``settings`` with ``num_epochs`` capped at ``max_epochs`` (None: unchanged)."""
    if max_epochs is None:
        return settings
    return dataclasses.replace(settings, num_epochs=min(settings.num_epochs, int(max_epochs)))


def _provis_usable(jobs: Sequence[ProvisProbeJob], proteins) -> tuple[list[ProvisProbeJob], dict[str, str]]:
    """Jobs with labelled proteins in both tables; reasons for the others (error when none is left)."""
    usable, skipped = [], {}
    for job in jobs:
        counts = {s: sum(1 for split, _, _, labels in proteins if split == s and job.name in labels) for s in ("train", "valid")}
        if counts["train"] and counts["valid"]:
            usable.append(job)
        else:
            skipped[job.name] = f"{counts['train']} training and {counts['valid']} validation proteins carry its labels"
    if not usable:
        reasons = "; ".join(f"{name}: {why}" for name, why in skipped.items())
        raise PlmscopeError(f"no provis probe has labelled proteins in both tables ({reasons})")
    for name, reason in skipped.items():
        log.warning("provis probe %s skipped: %s", name, reason)
    return usable, skipped


class _NpyList(Sequence):
    """Arrays saved as ``.npy`` files, read into memory one at a time: a lazy per-protein sequence."""

    def __init__(self, paths: Sequence[Path]):
        self.paths = list(paths)

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index):
        return np.load(self.paths[index])  # one protein in memory (writable, as torch wants)


def _provis_features(adapter, proteins, group: Sequence[int], jobs: Sequence[ProvisProbeJob], scratch: Path, *,
                     max_tokens: int) -> dict[tuple[int, str, str, int], Path]:  # fmt: skip
    """Run the model over every cut of every protein a job reads; save each layer's hidden states ``(n, D)``
    (and the attention ``(H, n, n)`` where the attention probe reads that cut) to ``scratch``.

    A job's labels are as long as the residues its provis dataset keeps (binding sites 512, the
    attention contact probe 512 tokens, whole chains otherwise), and provis cuts the *sequence*
    before the model runs: so the features of a job come from a forward pass over exactly its
    labels' residues, one pass per distinct cut of a protein (a single one for proteins within
    every limit).

    Returns ``(layer, "hidden" | "attention", protein id, residues) -> path``.
    """
    from plmscope.models.inference import plan_batches

    for old in scratch.glob("*.npy"):
        old.unlink()  # the previous group's features
    cuts: dict[tuple[str, int], tuple[str, set[str]]] = {}  # (protein id, residues) -> (sequence, sources)
    for _, pid, seq, labels in proteins:
        for job in jobs:
            if job.name in labels:
                n = len(labels[job.name])
                source = "attention" if job.kind == "contact_attention" else "hidden"
                cuts.setdefault((pid, n), (seq[:n], set()))[1].add(source)
    items = list(cuts.items())
    store: dict[tuple[int, str, str, int], Path] = {}
    batches = plan_batches([n for (_, n), _ in items], max_tokens=max_tokens, n_special=adapter.n_special)
    bar = Progress(len(items), "protein cuts", f"model pass for layers {group[0]}-{group[-1]}:")
    for index in batches:
        members = [items[k] for k in index]
        encoded = adapter.encode([seq for _, (seq, _) in members], ids=[pid for (pid, _), _ in members])
        want_attention = any("attention" in sources for _, (_, sources) in members)
        with torch.inference_mode():
            hidden = adapter.hidden_states(encoded)
            attention = adapter.attentions(encoded) if want_attention else None
        for b, ((pid, n), (_, sources)) in enumerate(members):
            for layer in group:
                if "hidden" in sources:
                    store[layer, "hidden", pid, n] = path = scratch / f"{layer}-h-{len(store)}.npy"
                    np.save(path, hidden[layer][b, :n].float().cpu().numpy())
                if "attention" in sources:
                    store[layer, "attention", pid, n] = path = scratch / f"{layer}-a-{len(store)}.npy"
                    np.save(path, attention[layer - 1][b, :, :n, :n].float().cpu().numpy())
        bar.update(len(index))
    return store


def _provis_probe(job: ProvisProbeJob, layer: int, proteins, store, settings, *, device: str) -> dict:
    """Train and evaluate one provis probe on one layer; its :data:`PROVIS_RESULT_COLUMNS` row."""
    source = "attention" if job.kind == "contact_attention" else "hidden"
    sides = {}
    for side in ("train", "valid"):
        members = [(pid, labels[job.name]) for split, pid, _, labels in proteins if split == side and job.name in labels]
        features = _NpyList([store[layer, source, pid, len(y)] for pid, y in members])
        sides[side] = (features, [y for _, y in members])
    result = train_provis_probe(job.kind, *sides["train"], *sides["valid"], settings=settings, metric=job.metric, device=device)
    return provis_probe_row(job, layer, result, n_train=len(sides["train"][1]), n_valid=len(sides["valid"][1]))


def _meta(*, model, proteins_path, valid_proteins_path, valid_fraction, seed, usable, skipped, C, max_iter,
          max_pairs_per_protein, max_residues_per_protein, contact_cutoff, contact_min_separation, adapter, proteins,
          started) -> dict[str, Any]:  # fmt: skip
    """The ``meta.json`` of a plmscope-semantics probing output (key order kept: part of the byte-identical output)."""
    return {
        "semantics": "plmscope",
        "model": model,
        "proteins": str(proteins_path),
        "valid_proteins": None if valid_proteins_path is None else str(valid_proteins_path),
        "valid_fraction": None if valid_proteins_path is not None else valid_fraction,
        "seed": seed,
        "tasks": list(usable),
        "skipped_tasks": skipped,
        "metrics": {t: TASK_METRICS[t] for t in usable},
        "probe": f"StandardScaler + LogisticRegression(C={C}, max_iter={max_iter}, lbfgs, L2)",
        "pair_features": "[h_i * h_j, |h_i - h_j|]; attention: (a_ij + a_ji) / 2 for each head of the layer",
        "max_pairs_per_protein": max_pairs_per_protein,
        "max_residues_per_protein": max_residues_per_protein,
        "contact_cutoff": contact_cutoff,
        "contact_min_separation": contact_min_separation,
        "max_residues": adapter.max_residues,
        "num_layers": adapter.num_layers,
        "num_heads": adapter.num_heads,
        "n_train_proteins": sum(p.split == "train" for p in proteins),
        "n_valid_proteins": sum(p.split == "valid" for p in proteins),
        "seconds": round(time.perf_counter() - started, 3),
    }


def _check_options(*, contact_cutoff, contact_min_separation, C, max_iter, seed, threads, **optional) -> None:
    """Reject bad options before the model loads (``optional``: positive integers or None)."""
    check_contact_options(contact_cutoff, contact_min_separation)
    for name, value in {**optional, "threads": threads}.items():
        if value is not None and (int(value) != value or value < 1):
            raise PlmscopeError(f"{name}: must be a positive integer or None, got {value!r}")
    make_probe(C=C, max_iter=max_iter, seed=seed)  # validates C and max_iter


def _probe_layers(adapter, proteins, usable, *, max_tokens, layers_per_pass, C, max_iter, seed) -> pd.DataFrame:
    """Probe every hidden layer (embeddings) and attention layer, ``layers_per_pass`` layers held at once."""
    from plmscope.models.inference import plan_batches

    hidden_layers = list(range(adapter.num_layers + 1))
    step = len(hidden_layers) if layers_per_pass is None else int(layers_per_pass)
    batches = plan_batches([p.length for p in proteins], max_tokens=max_tokens, n_special=adapter.n_special)
    rows: list[dict] = []
    for start in range(0, len(hidden_layers), step):
        group = hidden_layers[start : start + step]
        features = _gather(adapter, proteins, batches, group, usable)
        for layer in group:
            rows += _embedding_rows(features, proteins, layer, usable, C=C, max_iter=max_iter, seed=seed)
            if "contact" in usable and layer >= 1:
                rows += _attention_rows(features, proteins, layer, C=C, max_iter=max_iter, seed=seed)
        note(f"probed layers {group[0]}-{group[-1]} of 0-{hidden_layers[-1]}")
    return pd.DataFrame(rows, columns=list(RESULT_COLUMNS))

@contextlib.contextmanager
def _thread_limit(threads: int | None) -> Iterator[None]:
    """Limit torch's and the BLAS libraries' thread pools to ``threads`` inside the block (None: no change)."""
    if threads is None:
        yield
        return
    from threadpoolctl import threadpool_limits

    before = torch.get_num_threads()
    torch.set_num_threads(int(threads))
    try:
        with threadpool_limits(limits=int(threads)):
            yield
    finally:
        torch.set_num_threads(before)


# ---- inputs ------------------------------------------------------------------------------------
def _check_tasks(tasks: Iterable[str] | None) -> tuple[str, ...]:
    if tasks is None:
        return TASKS
    chosen = tuple(dict.fromkeys([tasks] if isinstance(tasks, str) else tasks))
    unknown = [t for t in chosen if t not in TASKS]
    if unknown or not chosen:
        raise PlmscopeError(f"probe tasks: unknown or empty selection {list(chosen)}; choose from {list(TASKS)}")
    return chosen


def _split(
    proteins_path: str | Path, valid_path: str | Path | None, *, valid_fraction: float, seed: int
) -> tuple[list[ProteinRecord], list[ProteinRecord]]:
    """Training and validation records: two tables, or a seeded split of one (stratified by site annotation)."""
    records = read_proteins(proteins_path)
    if valid_path is not None:
        valid = read_proteins(valid_path)
        overlap = sorted({r.id for r in records} & {r.id for r in valid})
        if overlap:
            raise PlmscopeError(f"{valid_path}: protein {overlap[0]!r} is also in the training table {proteins_path}")
        return records, valid
    train_ids, valid_ids = split_proteins(
        [r.id for r in records], valid_fraction=valid_fraction, seed=seed,
        strata=[r.sites is not None for r in records],
    )  # fmt: skip
    chosen = set(valid_ids)
    return [r for r in records if r.id not in chosen], [r for r in records if r.id in chosen]


def _labels(
    record: ProteinRecord,
    split: str,
    *,
    limit: int,
    chosen: Sequence[str],
    rng: np.random.Generator,
    max_pairs: int | None,
    max_tokens: int | None,
    cutoff: float,
    min_separation: int,
) -> _Protein:
    """Labels of one protein, truncated to ``limit`` residues, with the training subsamples drawn."""
    n = min(len(record.sequence), limit)
    protein = _Protein(id=record.id, split=split, sequence=record.sequence[:n])
    if record.ss8 is not None and any(t in SS_CLASSES for t in chosen):
        protein.ss = ss_codes(record.ss8[:n])
    if record.sites is not None and "binding_site" in chosen:
        sites = np.zeros(n, dtype=bool)
        kept = np.asarray(record.sites, dtype=np.int64)
        sites[kept[kept < n]] = True
        protein.sites = sites
    if split == "train" and max_tokens is not None and n > max_tokens:
        protein.token_index = np.sort(rng.choice(n, size=max_tokens, replace=False))
    else:
        protein.token_index = np.arange(n)
    if record.ca is not None and "contact" in chosen:
        ca, valid = record.ca[:n], record.valid[:n]
        if split == "train":
            i, j = sample_pairs(valid, min_separation=min_separation, max_pairs=max_pairs, rng=rng)
        else:
            i, j = candidate_pairs(valid, min_separation=min_separation)
        if len(i):
            protein.pair_i, protein.pair_j = i, j
            protein.pair_y = pair_contacts(ca, valid, i, j, cutoff=cutoff, min_separation=min_separation) == 1
    return protein


def _has(protein: _Protein, task: str) -> bool:
    if task in SS_CLASSES:
        return protein.ss is not None
    if task == "binding_site":
        return protein.sites is not None
    return protein.pair_i is not None


def _usable_tasks(proteins: Sequence[_Protein], chosen: Sequence[str]) -> tuple[list[str], dict[str, str]]:
    """Tasks with labelled proteins in both splits and both classes in training; reasons for the others.

    Raises:
        PlmscopeError: no task is usable.
    """
    usable, skipped = [], {}
    for task in chosen:
        train = [p for p in proteins if p.split == "train" and _has(p, task)]
        valid = [p for p in proteins if p.split == "valid" and _has(p, task)]
        if not train or not valid:
            skipped[task] = f"{len(train)} training and {len(valid)} validation proteins carry its labels"
            continue
        y = np.concatenate([_token_labels(p, task) if task != "contact" else p.pair_y for p in train])
        if y.all() or not y.any():
            skipped[task] = "the training labels hold a single class"
            continue
        usable.append(task)
    if not usable:
        reasons = "; ".join(f"{t}: {why}" for t, why in skipped.items())
        raise PlmscopeError(f"no probe task has labelled proteins on both sides of the split ({reasons})")
    for task, reason in skipped.items():
        log.warning("probe task %s skipped: %s", task, reason)
    return usable, skipped


def _token_labels(protein: _Protein, task: str, *, residues: np.ndarray | None = None) -> np.ndarray:
    index = protein.token_index if residues is None else residues
    if task == "binding_site":
        return protein.sites[index]
    return protein.ss[index] == SS_CLASSES.index(task)


# ---- model pass --------------------------------------------------------------------------------
def _gather(adapter, proteins: Sequence[_Protein], batches: Sequence[Sequence[int]], group: Sequence[int],
            tasks: Sequence[str]) -> _Features:  # fmt: skip
    """Run the model once over every protein and keep the features the probes of ``group`` need."""
    features = _Features()
    token_tasks = [t for t in tasks if t != "contact"]
    want_contact = "contact" in tasks
    attention_layers = [layer for layer in group if layer >= 1] if want_contact else []
    bar = Progress(len(proteins), "proteins", f"model pass for layers {group[0]}-{group[-1]}:")
    for index in batches:
        members = [proteins[k] for k in index]
        encoded = adapter.encode([p.sequence for p in members], ids=[p.id for p in members])
        with torch.inference_mode():
            hidden = adapter.hidden_states(encoded)
            attention = adapter.attentions(encoded) if attention_layers else None
        for b, p in enumerate(members):
            n = p.length
            needs_tokens = any(_has(p, t) for t in token_tasks)
            needs_pairs = want_contact and p.pair_i is not None
            for layer in group:
                h = hidden[layer][b, :n].float().cpu().numpy()
                if p.split == "valid" and (needs_tokens or needs_pairs):
                    features.embed_valid.setdefault(layer, {})[p.id] = h.copy()  # not a view of the batch
                elif p.split == "train":
                    if needs_tokens:
                        features.token_train.setdefault(layer, {})[p.id] = h[p.token_index]
                    if needs_pairs:
                        features.pair_train.setdefault(layer, {})[p.id] = embedding_pair_features(h, p.pair_i, p.pair_j)
            if needs_pairs:
                for layer in attention_layers:
                    a = attention[layer - 1][b, :, :n, :n].float().cpu().numpy()
                    features.attention.setdefault(layer, {})[p.id] = attention_pair_features(a, p.pair_i, p.pair_j)
        bar.update(len(index))
    return features


# ---- probes ------------------------------------------------------------------------------------
def _fit(x: np.ndarray, y: np.ndarray, *, C: float, max_iter: int, seed: int):
    probe = make_probe(C=C, max_iter=max_iter, seed=seed)
    probe.fit(x, y)
    converged = bool(np.all(probe[-1].n_iter_ < max_iter))
    return probe, converged


def _row(probe: str, task: str, layer: int, value: float, chance: float, *, y_train: np.ndarray, n_valid: int,
         n_valid_positive: int, n_valid_proteins: int, converged: bool) -> dict:  # fmt: skip
    """One row of :data:`RESULT_COLUMNS`."""
    return {
        "semantics": "plmscope", "probe": probe, "task": task, "layer": layer, "metric": TASK_METRICS[task], "score": value,
        "chance": chance, "n_train": len(y_train), "n_train_positive": int(np.count_nonzero(y_train)),
        "n_valid": n_valid, "n_valid_positive": n_valid_positive, "n_valid_proteins": n_valid_proteins,
        "converged": converged,
    }  # fmt: skip


def _embedding_rows(features: _Features, proteins: Sequence[_Protein], layer: int, tasks: Sequence[str], *,
                    C: float, max_iter: int, seed: int) -> list[dict]:  # fmt: skip
    rows = []
    for task in tasks:
        train = [p for p in proteins if p.split == "train" and _has(p, task)]
        valid = [p for p in proteins if p.split == "valid" and _has(p, task)]
        if task == "contact":
            x = np.concatenate([features.pair_train[layer][p.id] for p in train])
            y = np.concatenate([p.pair_y for p in train])
            probe, converged = _fit(x, y, C=C, max_iter=max_iter, seed=seed)
            scores = [_pair_scores(probe, features.embed_valid[layer][p.id], p.pair_i, p.pair_j) for p in valid]
            rows.append(_precision_row("embedding", task, layer, scores, valid, y, converged))
            continue
        x = np.concatenate([features.token_train[layer][p.id] for p in train])
        y = np.concatenate([_token_labels(p, task) for p in train])
        probe, converged = _fit(x, y, C=C, max_iter=max_iter, seed=seed)
        if task == "binding_site":
            scores = [probe.decision_function(features.embed_valid[layer][p.id]) for p in valid]
            rows.append(_precision_row("embedding", task, layer, scores, valid, y, converged))
        else:
            xv = np.concatenate([features.embed_valid[layer][p.id] for p in valid])
            yv = np.concatenate([_token_labels(p, task, residues=np.arange(p.length)) for p in valid])
            value = binary_f1(yv, probe.predict(xv).astype(bool))
            rows.append(
                _row("embedding", task, layer, value, float(yv.mean()), y_train=y, n_valid=len(yv),
                     n_valid_positive=int(yv.sum()), n_valid_proteins=len(valid), converged=converged)
            )  # fmt: skip
    return rows


def _attention_rows(features: _Features, proteins: Sequence[_Protein], layer: int, *,
                    C: float, max_iter: int, seed: int) -> list[dict]:  # fmt: skip
    train = [p for p in proteins if p.split == "train" and p.pair_i is not None]
    valid = [p for p in proteins if p.split == "valid" and p.pair_i is not None]
    x = np.concatenate([features.attention[layer][p.id] for p in train])
    y = np.concatenate([p.pair_y for p in train])
    probe, converged = _fit(x, y, C=C, max_iter=max_iter, seed=seed)
    scores = [probe.decision_function(features.attention[layer][p.id]) for p in valid]
    return [_precision_row("attention", "contact", layer, scores, valid, y, converged)]


def _pair_scores(probe, embeddings: np.ndarray, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Probe scores (logits) of residue pairs without materialising all pair features at once.

    The pipeline (standardisation, then a linear model) is folded into one weight vector
    ``w = [w_prod, w_diff]`` and bias; the product half of the score is one ``(L, L)`` matrix,
    the absolute-difference half is computed :data:`SCORE_CHUNK` pairs at a time.
    """
    scaler, linear = probe[0], probe[-1]
    w = linear.coef_[0] / scaler.scale_
    bias = float(linear.intercept_[0] - np.dot(scaler.mean_, w))
    d = embeddings.shape[1]
    h = embeddings.astype(np.float64, copy=False)
    product = (h * w[:d]) @ h.T
    out = product[i, j] + bias
    for start in range(0, len(i), SCORE_CHUNK):
        part = slice(start, start + SCORE_CHUNK)
        out[part] += np.abs(h[i[part]] - h[j[part]]) @ w[d:]
    return out


def _precision_row(probe: str, task: str, layer: int, scores: list[np.ndarray], valid: Sequence[_Protein],
                   y: np.ndarray, converged: bool) -> dict:  # fmt: skip
    """Precision@k row of a probe on the validation proteins (k from :data:`TOP_K_DIVISORS`)."""
    labels = [p.pair_y if task == "contact" else p.sites for p in valid]
    ks = [top_k_size(p.length, TOP_K_DIVISORS[task]) for p in valid]
    value, taken = pooled_precision_at_k(scores, labels, ks)
    positives = int(sum(np.count_nonzero(v) for v in labels))
    return _row(probe, task, layer, value, chance_pooled_precision(labels, ks), y_train=y, n_valid=taken,
                n_valid_positive=positives, n_valid_proteins=len(valid), converged=converged)  # fmt: skip


def _best(table: pd.DataFrame) -> dict[str, str]:
    """``"<probe> <task>" -> "layer L: value"`` for the best layer of every probe and task."""
    out = {}
    for (probe, task), part in table.groupby(["probe", "task"], sort=False):
        part = part.dropna(subset=["score"])
        if part.empty:
            continue
        best = part.loc[part["score"].idxmax()]
        out[f"{probe} {task}"] = f"layer {int(best['layer'])}: {best['metric']} {best['score']:.3f}"
    return out
