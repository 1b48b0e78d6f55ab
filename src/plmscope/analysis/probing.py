"""Linear probes of frozen embeddings and attention (Vig et al. 2021, Sec. 5): labels, features, metrics."""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from plmscope.analysis.features import SS_GROUPS
from plmscope.errors import PlmscopeError

SS_CLASSES: tuple[str, ...] = tuple(SS_GROUPS)
"""Secondary-structure probe tasks, one-vs-all: helix (DSSP H G I), strand (E B), turn_bend (T S)."""

TOKEN_TASKS: tuple[str, ...] = (*SS_CLASSES, "binding_site")
"""Probe tasks on single residues."""

TASKS: tuple[str, ...] = (*TOKEN_TASKS, "contact")
"""Every probe task, in the order of the paper's Fig. 8."""

TASK_METRICS: dict[str, str] = {
    **{c: "f1" for c in SS_CLASSES},
    "binding_site": "precision_at_L20",
    "contact": "precision_at_L5",
}
"""Metric reported for each task (paper: F1 for secondary structure, precision@L/20 for binding
sites, precision@L/5 for contacts with |i - j| >= 6)."""

TOP_K_DIVISORS: dict[str, int] = {"binding_site": 20, "contact": 5}
"""k = round(L / divisor) predictions per protein for the precision@k tasks."""


def ss_codes(ss8: str) -> np.ndarray:
    """``(L,)`` int8 index of the secondary-structure class of each residue in :data:`SS_CLASSES`, -1 for other."""
    lookup = np.full(256, -1, dtype=np.int8)
    for code, name in enumerate(SS_CLASSES):
        lookup[np.frombuffer(SS_GROUPS[name].encode("ascii"), dtype=np.uint8)] = code
    return lookup[np.frombuffer(ss8.encode("ascii"), dtype=np.uint8)]


def top_k_size(length: int, divisor: int) -> int:
    """Predictions kept per protein: ``round(length / divisor)`` (Python rounding), at least 0."""
    if divisor < 1:
        raise PlmscopeError(f"top-k divisor must be a positive integer, got {divisor}")
    return max(int(round(length / divisor)), 0)


def pooled_precision_at_k(
    scores: Sequence[np.ndarray], labels: Sequence[np.ndarray], ks: Sequence[int]
) -> tuple[float, int]:
    """Precision of the ``k`` highest-scored candidates of each protein, pooled over proteins.

    For each protein the ``min(k, candidates)`` candidates with the highest scores are taken
    (ties broken by candidate order); the result is the number of positives among all those
    taken over the number taken (as in the paper's evaluation code).

    Args:
        scores: per protein, ``(n_p,)`` scores of its candidates (residues or residue pairs).
        labels: per protein, ``(n_p,)`` bool/0-1 labels of the same candidates.
        ks: per protein, how many top candidates to take (0 skips the protein).

    Returns:
        ``(precision, n_taken)``; precision is NaN when nothing was taken.

    Raises:
        PlmscopeError: the three sequences differ in length, or a protein's scores and labels do.
    """
    if not (len(scores) == len(labels) == len(ks)):
        raise PlmscopeError(
            f"pooled_precision_at_k: {len(scores)} score arrays, {len(labels)} label arrays, {len(ks)} k values"
        )
    hits = taken = 0
    for p, (s, y, k) in enumerate(zip(scores, labels, ks)):
        s = np.asarray(s, dtype=float).ravel()
        y = np.asarray(y).ravel()
        if s.shape != y.shape:
            raise PlmscopeError(f"pooled_precision_at_k: protein {p} has {s.size} scores for {y.size} labels")
        k = min(int(k), s.size)
        if k <= 0:
            continue
        order = np.argsort(-s, kind="stable")[:k]
        hits += int(np.count_nonzero(y[order]))
        taken += k
    return (hits / taken if taken else float("nan")), taken


def chance_pooled_precision(labels: Sequence[np.ndarray], ks: Sequence[int]) -> float:
    """Expected :func:`pooled_precision_at_k` of a random ranking: each protein's positive rate, weighted by its k.

    Returns:
        NaN when no protein contributes a prediction.
    """
    weighted = taken = 0.0
    for y, k in zip(labels, ks):
        y = np.asarray(y).ravel()
        k = min(int(k), y.size)
        if k <= 0:
            continue
        weighted += k * np.count_nonzero(y) / y.size
        taken += k
    return weighted / taken if taken else float("nan")


def binary_f1(truth: np.ndarray, predicted: np.ndarray) -> float:
    """F1 of the positive class: ``2 TP / (2 TP + FP + FN)``; NaN when there are neither positives nor predictions."""
    truth = np.asarray(truth, dtype=bool)
    predicted = np.asarray(predicted, dtype=bool)
    if truth.shape != predicted.shape:
        raise PlmscopeError(f"binary_f1: {truth.size} labels for {predicted.size} predictions")
    tp = int(np.count_nonzero(truth & predicted))
    denominator = 2 * tp + int(np.count_nonzero(truth ^ predicted))
    return 2 * tp / denominator if denominator else float("nan")


def one_vs_all_f1(
    codes: np.ndarray, predicted: Mapping[str, np.ndarray], classes: Sequence[str] = SS_CLASSES
) -> dict[str, float]:
    """F1 of each class against all others.

    Args:
        codes: ``(N,)`` true class index of each residue in ``classes`` (-1 for none of them).
        predicted: class name -> ``(N,)`` bool, the one-vs-all probe of that class says yes.
        classes: class names; ``codes`` index into them.

    Returns:
        Class name -> F1 (:func:`binary_f1`), for the classes in ``predicted``.
    """
    codes = np.asarray(codes)
    return {name: binary_f1(codes == classes.index(name), predicted[name]) for name in classes if name in predicted}


def embedding_pair_features(embeddings: np.ndarray, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Symmetric features of residue pairs: ``[h_i * h_j, |h_i - h_j|]``.

    TAPE's contact head (used by the paper) concatenates ``h_i * h_j`` and the signed
    ``h_i - h_j`` and then averages the logits of (i, j) and (j, i), which cancels the signed
    difference exactly; the absolute difference keeps that half of the features informative while
    the probe stays symmetric.

    Args:
        embeddings: ``(L, D)`` residue embeddings of one protein.
        i, j: ``(P,)`` residue indices.

    Returns:
        ``(P, 2 D)`` float32.
    """
    hi = embeddings[np.asarray(i)]
    hj = embeddings[np.asarray(j)]
    return np.concatenate([hi * hj, np.abs(hi - hj)], axis=1).astype(np.float32, copy=False)


def attention_pair_features(attention: np.ndarray, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Symmetrised attention of every head of one layer on residue pairs: ``(a_ij + a_ji) / 2``.

    Args:
        attention: ``(H, L, L)`` residue attention of one layer of one protein.
        i, j: ``(P,)`` residue indices.

    Returns:
        ``(P, H)`` float32.
    """
    i = np.asarray(i)
    j = np.asarray(j)
    return (0.5 * (attention[:, i, j] + attention[:, j, i])).T.astype(np.float32, copy=False)


def candidate_pairs(valid: np.ndarray, *, min_separation: int) -> tuple[np.ndarray, np.ndarray]:
    """All pairs ``i < j`` with ``j - i >= min_separation`` and both residues valid.

    Args:
        valid: ``(L,)`` bool, residue has coordinates.
        min_separation: minimum sequence separation.

    Returns:
        ``(i, j)``, two ``(P,)`` int64 arrays ordered by i then j.
    """
    valid = np.asarray(valid, dtype=bool)
    i, j = np.triu_indices(len(valid), k=max(int(min_separation), 1))
    keep = valid[i] & valid[j]
    return i[keep].astype(np.int64), j[keep].astype(np.int64)


def sample_pairs(
    valid: np.ndarray, *, min_separation: int, max_pairs: int | None, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """A uniform random subset of :func:`candidate_pairs` (all of them when there are at most ``max_pairs``).

    Returns:
        ``(i, j)`` ordered by i then j.
    """
    i, j = candidate_pairs(valid, min_separation=min_separation)
    if max_pairs is not None and len(i) > max_pairs:
        keep = np.sort(rng.choice(len(i), size=int(max_pairs), replace=False))
        i, j = i[keep], j[keep]
    return i, j


def split_proteins(
    ids: Sequence[str],
    *,
    valid_fraction: float,
    seed: int,
    strata: Sequence[object] | None = None,
) -> tuple[list[str], list[str]]:
    """Seeded protein-level train/validation split, stratified when ``strata`` is given.

    Within each stratum, ``round(n * valid_fraction)`` proteins go to validation, at least one and
    leaving at least one for training when the stratum has two or more proteins (a single protein
    goes to training).

    Args:
        ids: protein ids (unique).
        valid_fraction: share of proteins in the validation split, in (0, 1).
        seed: seed of the shuffle.
        strata: per protein, a hashable label (e.g. "has binding sites") balanced across the split.

    Returns:
        ``(train_ids, valid_ids)``, each in the input order.

    Raises:
        PlmscopeError: a fraction outside (0, 1), fewer than two proteins, or mismatched strata.
    """
    ids = list(ids)
    if not 0 < valid_fraction < 1:
        raise PlmscopeError(f"valid_fraction: must lie in (0, 1), got {valid_fraction}")
    if len(ids) < 2:
        raise PlmscopeError(f"a train/validation split needs at least 2 proteins, got {len(ids)}")
    if len(set(ids)) != len(ids):
        raise PlmscopeError("split_proteins: protein ids are not unique")
    labels = [0] * len(ids) if strata is None else list(strata)
    if len(labels) != len(ids):
        raise PlmscopeError(f"split_proteins: {len(labels)} strata for {len(ids)} proteins")
    rng = np.random.default_rng(seed)
    chosen: set[int] = set()
    groups: dict[object, list[int]] = {}
    for k, label in enumerate(labels):
        groups.setdefault(label, []).append(k)
    for label in sorted(groups, key=repr):
        members = groups[label]
        n = len(members)
        if n < 2:
            continue
        n_valid = min(max(int(round(n * valid_fraction)), 1), n - 1)
        chosen.update(members[k] for k in rng.permutation(n)[:n_valid])
    train = [pid for k, pid in enumerate(ids) if k not in chosen]
    valid = [pid for k, pid in enumerate(ids) if k in chosen]
    if not valid:
        valid, train = [train[-1]], train[:-1]
    return train, valid


def make_probe(*, C: float = 1.0, max_iter: int = 1000, seed: int = 0):
    """A linear probe: standardised features, then L2-regularised logistic regression (lbfgs).

    The paper trains one linear layer with dropout and early stopping; here the L2 penalty
    (inverse strength ``C``) plays that role. Standardising keeps the probe linear in the
    features while making one ``C`` suit embeddings and attention weights alike.

    Returns:
        An unfitted scikit-learn Pipeline.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if not C > 0:
        raise PlmscopeError(f"probe C: must be positive, got {C}")
    if int(max_iter) < 1:
        raise PlmscopeError(f"probe max_iter: must be a positive integer, got {max_iter}")
    return make_pipeline(
        StandardScaler(), LogisticRegression(C=float(C), max_iter=int(max_iter), random_state=int(seed))
    )
