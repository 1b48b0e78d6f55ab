"""The ``contacts`` verb: predict contacts from a model's attention (Rao et al. 2020) and score them by P@L."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np
import pandas as pd

from plmscope import options as opt
from plmscope.analysis.contact_prediction import (
    MIN_SEPARATION,
    RANGES,
    TOP_K,
    ProteinPairs,
    RangeName,
    Solver,
    TopK,
    check_two_classes,
    contact_labels,
    evaluate_protein,
    regression_table,
    label_counts,
    pair_features,
    regression_coefficients,
    split_train_test,
    summarise_precision,
    train_predictor,
)
from plmscope.data.table import ProteinRecord, read_proteins
from plmscope.errors import PlmscopeError, located
from plmscope.io import file_names
from plmscope.options import WHOLE_SEQUENCE_POLICIES, DType, LongSequences, check_choice, check_int
from plmscope.progress import note
from plmscope.outputs import write_outputs

log = logging.getLogger(__name__)

CONTACT_DEFINITION = "CA-CA distance < cutoff Å (Rao et al. use CB-CB; the protein table holds CA only)"


def run_contacts(
    proteins_path: str | Path,
    output_dir: str | Path,
    *,
    model: str,
    train_proteins: int = 20,
    seed: int = 0,
    C: float = 0.15,
    solver: Solver = "liblinear",
    standardize: bool = True,
    contact_cutoff: float = opt.CONTACT_CUTOFF,
    select_range: RangeName = "all",
    select_k: TopK = "L",
    n_maps: int = 3,
    max_residues: int = opt.MAX_RESIDUES,
    long_sequences: LongSequences = "truncate",
    device: str = "auto",
    dtype: DType = "auto",
    progress: bool = True,
) -> dict[str, Any]:
    """Fit an L1 logistic regression on attention features of a few proteins; score contacts on the rest.

    Every head's attention is symmetrised and APC-corrected; the features of a pair ``(i, j)``,
    ``j - i >= 6``, are the values of all heads there. Proteins with CA coordinates are split at
    random (``seed``) into ``train_proteins`` training proteins and test proteins. Contacts are
    CA-CA < ``contact_cutoff`` Å (the table holds no CB atoms). Dense attention exists only in
    memory, one protein at a time.

    Args:
        proteins_path: protein table (:func:`plmscope.data.table.read_proteins`).
        output_dir: directory written atomically with ``contact_prediction.{parquet,csv}`` (mean
            precision per method, range and k over the test proteins, and the contact definition
            used), ``per_protein.{parquet,csv}``, ``head_selection.{parquet,csv}`` (each head's
            training precision and regression coefficient), ``regression.{parquet,csv}`` (the fitted
            regression as a table: standardisation, coefficient per head, intercept; applied to other
            proteins by ``contact-maps``), ``meta.json`` and the figures
            ``precision_by_range`` and ``contact_map_<protein>`` (PNG and SVG).
        model: model name or directory (:func:`plmscope.models.registry.load_adapter`).
        train_proteins: proteins used to fit the regression and to pick the best head (Rao et al.: 20).
        seed: seed of the train/test split and of the solver.
        C: inverse L1 regularisation strength of the regression.
        solver: ``"liblinear"`` or ``"saga"``.
        standardize: z-score each feature on the training pairs before the regression.
        contact_cutoff: contact distance in Å.
        select_range: separation range in which the best single head is chosen.
        select_k: top-k at which the best single head is chosen.
        n_maps: test proteins drawn as contact maps (the first ones in table order).
        max_residues: longest sequence analysed.
        long_sequences: ``"truncate"``, ``"skip"`` or ``"error"`` for longer sequences.
        device: torch device.
        dtype: model dtype.
        progress: progress bars on stderr.

    Returns:
        A summary: output directory, numbers of proteins, best head, mean long-range P@L of each
        method, seconds.

    Raises:
        PlmscopeError: an unreadable table, too few proteins with structure for the split, a
            training set without contacts, a bad option or an unloadable model.
    """
    started = time.perf_counter()
    proteins_path, output_dir = Path(proteins_path), Path(output_dir)
    _check_options(train_proteins=train_proteins, n_maps=n_maps, cutoff=contact_cutoff, select_range=select_range,
                   select_k=select_k, max_residues=max_residues, long_sequences=long_sequences)  # fmt: skip
    records = read_proteins(proteins_path)
    usable = _usable(records, max_residues=max_residues, long_sequences=long_sequences)
    try:
        train, test = split_train_test(usable, train_proteins, seed=seed)
    except PlmscopeError as exc:
        raise located(proteins_path, str(exc)) from None
    log.info("%d training and %d test proteins (seed %d)", len(train), len(test), seed)
    _check_training_contacts(proteins_path, train, usable, seed=seed, cutoff=contact_cutoff, max_residues=max_residues)

    from plmscope.models.registry import load_adapter

    adapter = load_adapter(model, max_residues=max_residues, device=device, dtype=dtype)
    heads = adapter.num_heads
    labels_of_head = [f"{n // heads + 1}-{n % heads + 1}" for n in range(adapter.num_layers * heads)]

    note(f"attention of {len(train)} training proteins")
    training = list(_proteins(adapter, train, cutoff=contact_cutoff, long_sequences=long_sequences,
                              progress=progress))  # fmt: skip
    predictor = train_predictor(training, C=C, solver=solver, seed=seed, standardize=standardize,
                                select_range=select_range, select_k=select_k)  # fmt: skip
    del training
    log.info("trained on %d pairs (%d contacts), %d features", predictor.n_train_pairs, predictor.n_train_contacts,
             len(predictor.head_precision))  # fmt: skip
    coefficients, intercept = regression_coefficients(predictor.regression)
    if not np.any(coefficients):
        log.warning("the L1 penalty zeroed every coefficient (C=%g): regression scores are constant; raise C", C)
    best, head_scores = predictor.best_head, predictor.head_precision
    best_label = labels_of_head[best]
    log.info("best single head on the training proteins: %s (P@%s %s = %.3f)", best_label, select_k, select_range,
             head_scores[best])  # fmt: skip

    per_protein, maps = _evaluate(adapter, predictor, test, n_maps=n_maps, cutoff=contact_cutoff,
                                  long_sequences=long_sequences, progress=progress)  # fmt: skip
    summary = summarise_precision(per_protein)
    summary["contact_definition"] = f"CA-CA < {contact_cutoff:g} Å (CA for every residue: the table has no CB)"

    selection = _selection(labels_of_head, heads, head_scores, coefficients, best,
                           column=f"train_precision_{select_k}_{select_range}")  # fmt: skip
    meta = _meta(model=model, proteins_path=proteins_path, adapter=adapter, contact_cutoff=contact_cutoff, C=C,
                 solver=solver, seed=seed, standardize=standardize, coefficients=coefficients, intercept=intercept,
                 best=best, best_label=best_label, head_scores=head_scores, select_k=select_k,
                 select_range=select_range, train=train, test=test)  # fmt: skip
    figures = _figures(summary, maps, model=model, best_label=best_label)
    regression = regression_table(predictor.regression, num_layers=adapter.num_layers, num_heads=heads)
    _write(output_dir, summary=summary, per_protein=per_protein, selection=selection, regression=regression, meta=meta,
           figures=figures)  # fmt: skip

    long_pl = summary[(summary["separation_range"] == "long") & (summary["k"] == "L")].set_index("method")["precision"]
    return {
        "output": str(output_dir),
        "train_proteins": len(train),
        "test_proteins": len(test),
        "best_head": best_label,
        "long_range_precision_at_L": {m: round(float(v), 4) for m, v in long_pl.items()},
        "seconds": round(time.perf_counter() - started, 3),
    }


def _evaluate(adapter, predictor, test: list[ProteinRecord], *, n_maps: int, cutoff: float, long_sequences: str,
              progress: bool) -> tuple[pd.DataFrame, dict]:  # fmt: skip
    """Per-protein precision of ``predictor`` on the test proteins (in table order) and the maps of the first ``n_maps``."""
    map_ids = [r.id for r in test[: max(n_maps, 0)]]
    per_protein, maps = [], {}
    note(f"attention of {len(test)} test proteins")
    for p in _proteins(adapter, test, cutoff=cutoff, long_sequences=long_sequences, progress=progress):
        per_protein.append(evaluate_protein(predictor, p))
        if p.id in map_ids:
            maps[p.id] = (p, predictor.scores(p))
    order = {pid: n for n, pid in enumerate(r.id for r in test)}
    per_protein = pd.concat(per_protein, ignore_index=True)
    per_protein = per_protein.sort_values("protein_id", key=lambda c: c.map(order), kind="stable", ignore_index=True)
    return per_protein, maps


def _selection(labels_of_head, heads, head_scores, coefficients, best, *, column: str) -> pd.DataFrame:
    """One row per head: its training precision, regression coefficient, and whether it is the best head."""
    n = np.arange(len(labels_of_head))
    return pd.DataFrame({"layer": n // heads, "head": n % heads, "label": labels_of_head, column: head_scores,
                         "coefficient": coefficients, "best": n == best})  # fmt: skip


def _meta(*, model, proteins_path, adapter, contact_cutoff, C, solver, seed, standardize, coefficients, intercept,
          best, best_label, head_scores, select_k, select_range, train, test) -> dict[str, Any]:  # fmt: skip
    """``meta.json`` of a contacts run: inputs, contact definition, methods, the fitted regression and best head."""
    heads = adapter.num_heads
    return {
        "model": model,
        "proteins": str(proteins_path),
        "num_layers": adapter.num_layers,
        "num_heads": heads,
        "contact_definition": CONTACT_DEFINITION,
        "contact_cutoff": contact_cutoff,
        "min_separation": MIN_SEPARATION,
        "ranges": {k: list(v) for k, v in RANGES.items()},
        "top_k": TOP_K,
        "features": "symmetrised (A + A^T), APC-corrected attention of every head at pairs j - i >= 6",
        "methods": {"regression": "L1 logistic regression on all heads (features standardised when standardize)",
                    "best_head": "the single head with the best training precision, its APC map as the score",
                    "random": "expected precision of a random ranking (contact base rate of the range)"},
        "regression": {"penalty": "l1", "C": C, "solver": solver, "seed": seed,
                       "standardize": standardize, "n_nonzero": int(np.count_nonzero(coefficients)),
                       "intercept": intercept},
        "best_head": {"label": best_label, "layer": best // heads, "head": best % heads,
                      "selected_by": f"mean precision at {select_k}, range {select_range}, training proteins",
                      "train_precision": float(head_scores[best])},
        "train_ids": [r.id for r in train],
        "test_ids": [r.id for r in test],
        "seed": seed,
    }  # fmt: skip


def _check_options(
    *, train_proteins: int, n_maps: int, cutoff: float, select_range: str, select_k: str, max_residues: int,
    long_sequences: str,
) -> None:  # fmt: skip
    """Reject invalid options with a one-line error naming the option."""
    check_int("contacts train_proteins", train_proteins)
    if int(n_maps) != n_maps or n_maps < 0:
        raise PlmscopeError(f"contacts n_maps: must be an integer >= 0, got {n_maps!r}")
    if not (np.isfinite(cutoff) and cutoff > 0):
        raise PlmscopeError(f"contacts contact_cutoff: must be a positive distance in Å, got {cutoff!r}")
    if select_range not in RANGES:
        raise PlmscopeError(f"contacts select_range: must be one of {list(RANGES)}, got {select_range!r}")
    if select_k not in TOP_K:
        raise PlmscopeError(f"contacts select_k: must be one of {list(TOP_K)}, got {select_k!r}")
    if int(max_residues) != max_residues or max_residues <= MIN_SEPARATION:
        raise PlmscopeError(f"contacts max_residues: must be an integer > {MIN_SEPARATION}, got {max_residues!r}")
    check_choice("contacts long_sequences", long_sequences, WHOLE_SEQUENCE_POLICIES)


def _usable(records: Sequence[ProteinRecord], *, max_residues: int, long_sequences: str) -> list[ProteinRecord]:
    """Proteins with CA coordinates and at least one labelled pair ``j - i >= 6`` in the analysed prefix."""
    out, no_structure, skipped = [], 0, 0
    for r in records:
        if long_sequences == "skip" and len(r.sequence) > max_residues:
            skipped += 1
            continue
        if r.ca is None:
            no_structure += 1
            continue
        present = (r.valid & np.isfinite(r.ca).all(axis=1))[:max_residues]
        index = np.flatnonzero(present)
        if len(index) < 2 or index[-1] - index[0] < MIN_SEPARATION:
            no_structure += 1
            continue
        out.append(r)
    if no_structure:
        log.warning("%d protein(s) without usable CA coordinates left out of contact prediction", no_structure)
    if skipped:
        log.warning("%d protein(s) longer than %d residues skipped", skipped, max_residues)
    return out


def _check_training_contacts(
    proteins_path: Path, train: Sequence[ProteinRecord], usable: Sequence[ProteinRecord], *, seed: int, cutoff: float,
    max_residues: int,
) -> None:  # fmt: skip
    """Refuse, before any model runs, training proteins whose pairs ``j - i >= 6`` hold a single class.

    The labels come from the CA coordinates of the analysed prefix (``max_residues``), exactly the
    pairs the regression would be fitted on.
    """
    counts = {r.id: label_counts(r.ca, r.valid, length=min(len(r.sequence), max_residues), cutoff=cutoff)
              for r in usable}  # fmt: skip
    n_pairs = sum(counts[r.id][0] for r in train)
    n_contacts = sum(counts[r.id][1] for r in train)
    with_contact = sum(1 for _, contacts in counts.values() if contacts > 0)
    hint = (f"{with_contact} of the {len(usable)} usable protein(s) have a contact (CA-CA < {cutoff:g} Å); "
            f"use more --train-proteins or another --seed")  # fmt: skip
    if with_contact == 0:
        hint = f"none of the {len(usable)} usable protein(s) has one (CA-CA < {cutoff:g} Å): this table cannot train it"
    try:
        check_two_classes(n_pairs, n_contacts, where=f"the {len(train)} training protein(s) (seed {seed})", hint=hint)
    except PlmscopeError as exc:
        raise located(proteins_path, str(exc)) from None


def _proteins(
    adapter, records: Sequence[ProteinRecord], *, cutoff: float, long_sequences: str, progress: bool
) -> Iterator[ProteinPairs]:
    """Run the model one protein at a time; yield APC features and contact labels (dense attention not kept)."""
    from plmscope.models.inference import iter_attention

    by_id = {r.id: r for r in records}
    stream = iter_attention(
        adapter, [(r.id, r.sequence) for r in records], max_tokens=1, long_sequences=long_sequences,
        progress=progress,
    )  # fmt: skip
    for batch in stream:
        for b, pid in enumerate(batch.ids):
            n = int(batch.lengths[b])
            layers = [layer[b, :, :n, :n].float().cpu().numpy() for layer in batch.layers]
            i, j, features = pair_features(layers)
            rec = by_id[pid]
            labels = contact_labels(rec.ca[:n], rec.valid[:n], i, j, cutoff=cutoff)
            yield ProteinPairs(id=pid, length=n, i=i, j=j, features=features, labels=labels)


def _figures(summary: pd.DataFrame, maps: dict, *, model: str, best_label: str) -> list[tuple[str, Any]]:
    """The precision-by-range chart and one contact map per selected test protein."""
    from plmscope.viz.contact_plots import plot_contact_map, plot_precision_by_range

    legend = {"regression": "L1 logistic regression", "best_head": f"best head ({best_label})",
              "random": "random (base rate)"}  # fmt: skip
    chart = plot_precision_by_range(summary, labels=legend, title=f"{model}: contact precision")
    figures = [("precision_by_range", chart)]
    names = file_names(maps, prefix="contact_map_", reserved=["precision_by_range"])
    for name, (pid, (p, scores)) in zip(names, maps.items()):
        shown = {"regression": scores["regression"], f"head {best_label}": scores["best_head"]}
        fig, _ = plot_contact_map(p.length, p.i, p.j, p.labels, shown, title=f"{model}: {pid}")
        figures.append((name, fig))
    return figures



def _write(output_dir: Path, *, summary, per_protein, selection, regression, meta, figures) -> None:
    """Write every table and figure into ``output_dir`` at once (atomic directory).

    ``regression.parquet`` is the fitted regression as a table (no pickle), applied to other
    proteins by the ``contact-maps`` verb.
    """
    tables = {"contact_prediction": summary, "per_protein": per_protein, "head_selection": selection,
              "regression": regression}  # fmt: skip
    write_outputs(output_dir, tables=tables, meta=meta, figures=figures)
    log.info("wrote contact prediction for %d test proteins to %s", per_protein["protein_id"].nunique(), output_dir)
