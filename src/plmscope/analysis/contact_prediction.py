"""Unsupervised contact prediction from attention maps (Rao et al. 2020): APC features, logistic regression, P@L."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Sequence

import numpy as np
import pandas as pd

from plmscope.data.contacts import pair_contacts
from plmscope.errors import PlmscopeError
from plmscope.options import CONTACT_CUTOFF, CONTACT_MIN_SEPARATION

MIN_SEPARATION = CONTACT_MIN_SEPARATION
"""Smallest sequence separation ``|i - j|`` of a pair that is featurised and evaluated."""

RANGES: dict[str, tuple[int, int | None]] = {
    "short": (6, 11),
    "medium": (12, 23),
    "long": (24, None),
    "all": (6, None),
}
"""Sequence-separation ranges ``lo <= |i - j| <= hi`` (``None``: no upper bound); ``all`` is every
featurised pair, the union of the other three."""

TOP_K: dict[str, int] = {"L": 1, "L/2": 2, "L/5": 5}
"""Number of top-scoring pairs evaluated, as a divisor of the protein length L."""

RangeName = Literal["short", "medium", "long", "all"]
TopK = Literal["L", "L/2", "L/5"]
Solver = Literal["liblinear", "saga"]

PREDICTORS: tuple[str, ...] = ("regression", "best_head", "random")
"""Scored methods: the L1 logistic regression over all heads, the best single head on the training
proteins, and a random ranking (its expected precision, the base rate of contacts, is reported)."""

SUMMARY_COLUMNS: tuple[str, ...] = ("method", "separation_range", "k", "precision", "precision_sd", "n_proteins")
"""Columns of :func:`summarise_precision`."""

PRECISION_COLUMNS: tuple[str, ...] = (
    "separation_range", "k", "n_top", "n_correct", "precision", "n_candidates", "n_contacts", "base_rate",
)  # fmt: skip
"""Columns of :func:`precision_at_k`."""


def symmetrize(x: np.ndarray) -> np.ndarray:
    """``x + x^T`` over the last two axes.

    Args:
        x: ``(..., L, L)`` maps (e.g. attention ``(layers, heads, L, L)``).

    Returns:
        ``(..., L, L)`` symmetric maps, float.
    """
    x = np.asarray(x)
    if x.ndim < 2 or x.shape[-1] != x.shape[-2]:
        raise PlmscopeError(f"symmetrize: expected square maps (..., L, L), got shape {x.shape}")
    return x + np.swapaxes(x, -1, -2)


def apc(x: np.ndarray) -> np.ndarray:
    """Average product correction ``F_ij - F_i. F_.j / F_..`` over the last two axes.

    ``F_i.`` is the sum of row i, ``F_.j`` the sum of column j and ``F_..`` the sum of the whole
    map (the same as the product of row and column means over the overall mean). A map summing to
    zero is returned unchanged (there is no background to remove).

    Args:
        x: ``(..., L, L)`` maps.

    Returns:
        ``(..., L, L)`` corrected maps, float.
    """
    x = np.asarray(x, dtype=np.result_type(np.asarray(x).dtype, np.float32))
    if x.ndim < 2 or x.shape[-1] != x.shape[-2]:
        raise PlmscopeError(f"apc: expected square maps (..., L, L), got shape {x.shape}")
    rows = x.sum(axis=-1, keepdims=True)
    cols = x.sum(axis=-2, keepdims=True)
    total = x.sum(axis=(-1, -2), keepdims=True)
    safe = np.where(total == 0, 1, total)
    correction = np.where(total == 0, 0, rows * cols / safe)
    return x - correction


def upper_pairs(length: int, *, min_separation: int = MIN_SEPARATION) -> tuple[np.ndarray, np.ndarray]:
    """The residue pairs ``i < j`` with ``j - i >= min_separation`` of a chain of ``length`` residues.

    Returns:
        ``(i, j)``: two ``(P,)`` int64 arrays in row-major order (by i, then j).
    """
    if length < 0 or min_separation < 1:
        raise PlmscopeError(f"upper_pairs: need length >= 0 and min_separation >= 1, got {length}, {min_separation}")
    i, j = np.triu_indices(int(length), k=int(min_separation))
    return i.astype(np.int64), j.astype(np.int64)


def pair_features(
    attention: Sequence[np.ndarray] | np.ndarray,
    *,
    min_separation: int = MIN_SEPARATION,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Symmetrised, APC-corrected attention of every head at every pair ``j - i >= min_separation``.

    Args:
        attention: the residue attention of one protein, ``(layers, heads, L, L)``, or a sequence of
            per-layer ``(heads, L, L)`` arrays (processed one layer at a time to bound memory).

    Returns:
        ``(i, j, X)``: pair indices, two ``(P,)`` int64 arrays (:func:`upper_pairs`), and the
        ``(P, layers * heads)`` float32 features; column ``layer * heads + head``.
    """
    if isinstance(attention, np.ndarray):
        if attention.ndim != 4:
            raise PlmscopeError(f"pair_features: expected (layers, heads, L, L), got shape {attention.shape}")
        layers = list(attention)
    else:
        layers = [np.asarray(a) for a in attention]
    if not layers:
        raise PlmscopeError("pair_features: no attention layer given")
    heads, length, _ = layers[0].shape
    i, j = upper_pairs(length, min_separation=min_separation)
    out = np.empty((len(i), len(layers) * heads), dtype=np.float32)
    for n, layer in enumerate(layers):
        if layer.shape != (heads, length, length):
            raise PlmscopeError(f"pair_features: layer {n} has shape {layer.shape}, expected {(heads, length, length)}")
        maps = apc(symmetrize(layer.astype(np.float32, copy=False)))
        out[:, n * heads : (n + 1) * heads] = maps[:, i, j].T
    return i, j, out


def contact_labels(
    ca: np.ndarray, valid: np.ndarray, i: np.ndarray, j: np.ndarray, *, cutoff: float = CONTACT_CUTOFF
) -> np.ndarray:
    """Contact label of each pair: 1 when the CA-CA distance is ``< cutoff`` Å, 0 when not, -1 unknown.

    Rao et al. use CB-CB distances (CA for glycine); the protein table holds CA atoms only, so CA
    is used for every residue. Pairs touching a residue without coordinates are -1.

    Args:
        ca: ``(L, 3)`` CA coordinates in Å (NaN where missing).
        valid: ``(L,)`` bool, residue has coordinates.
        i, j: ``(P,)`` pair indices (any separation >= 1).
        cutoff: contact distance in Å.

    Returns:
        ``(P,)`` int8 labels.
    """
    return pair_contacts(ca, valid, i, j, cutoff=cutoff, min_separation=1)


def check_two_classes(n_pairs: int, n_contacts: int, *, where: str, hint: str = "use more training proteins") -> None:
    """Raise a one-line error when training pairs hold a single class (no contact, or only contacts).

    scikit-learn's logistic regression refuses a single class with a long message of its own; this
    names what was trained on instead: ``"<where> hold <n> labelled pairs (|i - j| >= 6), <k> of them
    contacts: ..."``.
    """
    if 0 < n_contacts < n_pairs:
        return
    what = "no contact" if n_contacts == 0 else "only contacts"
    raise PlmscopeError(
        f"{where} hold {n_pairs} labelled pair(s) (|i - j| >= {MIN_SEPARATION}), {n_contacts} of them contacts "
        f"({what}): the contact regression needs contacts and non-contacts; {hint}"
    )


def label_counts(ca: np.ndarray, valid: np.ndarray, *, length: int, cutoff: float = CONTACT_CUTOFF) -> tuple[int, int]:
    """``(labelled pairs, contacts)`` among the pairs ``j - i >= 6`` of a protein's first ``length`` residues.

    These are the training pairs :func:`train_predictor` sees for the protein, known from the
    coordinates alone, so a training set without a contact is found before any model runs.
    """
    i, j = upper_pairs(int(length))
    labels = contact_labels(np.asarray(ca)[:length], np.asarray(valid)[:length], i, j, cutoff=cutoff)
    return int(np.count_nonzero(labels >= 0)), int(np.count_nonzero(labels == 1))


def range_mask(i: np.ndarray, j: np.ndarray, range_name: RangeName) -> np.ndarray:
    """``(P,)`` bool: the pair's separation ``|i - j|`` lies in :data:`RANGES` ``[range_name]``."""
    if range_name not in RANGES:
        raise PlmscopeError(f"contact range {range_name!r} is not one of {list(RANGES)}")
    lo, hi = RANGES[range_name]
    sep = np.abs(np.asarray(j, dtype=np.int64) - np.asarray(i, dtype=np.int64))
    return (sep >= lo) if hi is None else (sep >= lo) & (sep <= hi)


def top_count(length: int, k: TopK) -> int:
    """Number of pairs evaluated for ``k`` (``"L"``, ``"L/2"``, ``"L/5"``): ``max(1, L // divisor)``."""
    if k not in TOP_K:
        raise PlmscopeError(f"top-k {k!r} is not one of {list(TOP_K)}")
    return max(1, int(length) // TOP_K[k])


def precision_at_k(
    scores: np.ndarray,
    labels: np.ndarray,
    i: np.ndarray,
    j: np.ndarray,
    *,
    length: int,
    ranges: Sequence[RangeName] | None = None,
    ks: Sequence[TopK] | None = None,
) -> pd.DataFrame:
    """Precision of the top-scoring pairs within each separation range, for one protein.

    For a range, the candidates are its pairs with a known label (``labels >= 0``); they are
    ranked by score (ties keep pair order) and the top ``n = max(1, L // d)`` are taken for k =
    L/d. Precision is the fraction of those that are contacts; when a range has fewer than n
    candidates all of them are taken (``n_top`` says how many), and with none it is NaN.

    Args:
        scores: ``(P,)`` predicted contact scores (higher = more likely).
        labels: ``(P,)`` int labels, 1 contact, 0 not, -1 unknown (left out).
        i, j: ``(P,)`` pair indices.
        length: protein length L (residues analysed).
        ranges: range names (default all of :data:`RANGES`).
        ks: top-k names (default all of :data:`TOP_K`).

    Returns:
        One row per (range, k) with :data:`PRECISION_COLUMNS`; ``base_rate`` is the fraction of
        candidates that are contacts (the expected precision of a random ranking).
    """
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels)
    if not (scores.shape == labels.shape == np.shape(i) == np.shape(j)) or scores.ndim != 1:
        raise PlmscopeError(
            f"precision_at_k: scores {scores.shape}, labels {labels.shape}, i {np.shape(i)}, j {np.shape(j)} differ"
        )
    rows = []
    known = labels >= 0
    for range_name in RANGES if ranges is None else ranges:
        candidates = np.flatnonzero(range_mask(i, j, range_name) & known)
        order = candidates[np.argsort(-scores[candidates], kind="stable")]
        hits = labels[order] == 1
        n_contacts = int(hits.sum())
        for k in TOP_K if ks is None else ks:
            n_top = min(top_count(length, k), len(order))
            n_correct = int(hits[:n_top].sum())
            rows.append(
                {
                    "separation_range": range_name,
                    "k": k,
                    "n_top": n_top,
                    "n_correct": n_correct,
                    "precision": n_correct / n_top if n_top else np.nan,
                    "n_candidates": len(order),
                    "n_contacts": n_contacts,
                    "base_rate": n_contacts / len(order) if len(order) else np.nan,
                }
            )
    return pd.DataFrame(rows, columns=list(PRECISION_COLUMNS))


def head_precisions(
    features: np.ndarray,
    labels: np.ndarray,
    i: np.ndarray,
    j: np.ndarray,
    *,
    length: int,
    range_name: RangeName = "all",
    k: TopK = "L",
) -> np.ndarray:
    """Precision at k of every feature column used alone as the score, for one protein.

    Vectorised over columns with :func:`numpy.argpartition`; ties at the cut-off are broken
    arbitrarily (unlike :func:`precision_at_k`, which keeps pair order).

    Args:
        features: ``(P, M)`` scores, one column per head.
        labels: ``(P,)`` labels (1, 0, -1 unknown).
        i, j: ``(P,)`` pair indices.
        length: protein length L.
        range_name: separation range.
        k: top-k name.

    Returns:
        ``(M,)`` float precisions; NaN when the range has no candidate.
    """
    features = np.asarray(features)
    candidates = np.flatnonzero(range_mask(i, j, range_name) & (np.asarray(labels) >= 0))
    if len(candidates) == 0:
        return np.full(features.shape[1], np.nan)
    n_top = min(top_count(length, k), len(candidates))
    sub = features[candidates]
    hits = np.asarray(labels)[candidates] == 1
    if n_top == len(candidates):
        return np.full(features.shape[1], hits.mean())
    top = np.argpartition(-sub, n_top - 1, axis=0)[:n_top]
    return hits[top].sum(axis=0) / n_top


def select_best_head(
    features: Sequence[np.ndarray],
    labels: Sequence[np.ndarray],
    pairs: Sequence[tuple[np.ndarray, np.ndarray]],
    lengths: Sequence[int],
    *,
    range_name: RangeName = "all",
    k: TopK = "L",
) -> tuple[int, np.ndarray]:
    """The head whose APC-corrected attention alone gives the best mean precision over proteins.

    Args:
        features: per protein, ``(P_p, M)`` features (:func:`pair_features`).
        labels: per protein, ``(P_p,)`` labels.
        pairs: per protein, ``(i, j)``.
        lengths: per protein, L.
        range_name: separation range of the selection criterion.
        k: top-k of the selection criterion.

    Returns:
        ``(best, mean_precision)``: the column index of the best head (lowest index among ties)
        and ``(M,)`` mean precision of every head (NaN where no protein has a candidate).

    Raises:
        PlmscopeError: no protein given, or no protein has a candidate pair in the range.
    """
    if not features:
        raise PlmscopeError("select_best_head: no training protein")
    per_protein = np.stack(
        [
            head_precisions(x, y, i, j, length=n, range_name=range_name, k=k)
            for x, y, (i, j), n in zip(features, labels, pairs, lengths)
        ]
    )
    seen = ~np.isnan(per_protein).all(axis=0)
    if not seen.any():
        raise PlmscopeError(f"select_best_head: no training protein has a labelled pair in range {range_name!r}")
    mean = np.full(per_protein.shape[1], np.nan)
    mean[seen] = np.nanmean(per_protein[:, seen], axis=0)
    return int(np.nanargmax(mean)), mean


def fit_regression(
    features: np.ndarray,
    labels: np.ndarray,
    *,
    C: float = 0.15,
    solver: Solver = "liblinear",
    seed: int = 0,
    standardize: bool = True,
    max_iter: int = 1000,
):
    """Fit the L1-regularised logistic regression from pair features to contacts.

    APC-corrected attention values shrink with protein length (attention rows sum to one), so
    on raw features an L1 penalty of the usual strength can zero every coefficient; by default
    each feature is therefore standardised with the training mean and standard deviation
    (:class:`sklearn.preprocessing.StandardScaler`) before the regression, and the same
    transform is applied when predicting.

    Args:
        features: ``(N, M)`` training features of pairs with a known label.
        labels: ``(N,)`` labels, 1 contact, 0 not (rows with -1 must be removed first).
        C: inverse regularisation strength (scikit-learn's ``C``; it weighs the summed loss).
        solver: ``"liblinear"`` or ``"saga"`` (both support the L1 penalty).
        seed: ``random_state`` of the solver.
        standardize: z-score the features first.
        max_iter: solver iterations.

    Returns:
        A fitted scikit-learn classifier with ``predict_proba``: a
        :class:`sklearn.pipeline.Pipeline` (scaler, regression) when ``standardize``, else the
        :class:`sklearn.linear_model.LogisticRegression`; :func:`regression_coefficients` reads
        its coefficients either way.

    Raises:
        PlmscopeError: a bad option, or the labels hold a single class.
    """
    import sklearn
    from sklearn.linear_model import LogisticRegression

    if not (np.isfinite(C) and C > 0):
        raise PlmscopeError(f"contacts C: must be a positive number, got {C!r}")
    if solver not in ("liblinear", "saga"):
        raise PlmscopeError(f"contacts solver: must be liblinear or saga, got {solver!r}")
    labels = np.asarray(labels)
    if ((labels != 0) & (labels != 1)).any():
        raise PlmscopeError("fit_regression: labels must be 0 or 1 (drop unknown pairs first)")
    check_two_classes(len(labels), int(labels.sum()), where="contact regression: the training pairs")
    major, minor = (int(v) for v in sklearn.__version__.split(".")[:2])
    penalty = {"l1_ratio": 1.0} if (major, minor) >= (1, 8) else {"penalty": "l1"}
    model = LogisticRegression(C=float(C), solver=solver, random_state=int(seed), max_iter=int(max_iter), **penalty)
    if standardize:
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        model = make_pipeline(StandardScaler(), model)
    model.fit(np.asarray(features), labels.astype(np.int64))
    return model


def regression_coefficients(model) -> tuple[np.ndarray, float]:
    """``(coefficients (M,), intercept)`` of a model from :func:`fit_regression` (standardised units
    when it standardises)."""
    final = model[-1] if hasattr(model, "steps") else model
    return np.asarray(final.coef_, dtype=np.float64).ravel(), float(np.ravel(final.intercept_)[0])


@dataclass(frozen=True)
class ProteinPairs:
    """Attention features and contact labels of the pairs ``j - i >= 6`` of one protein.

    Attributes:
        id: protein id.
        length: residues L.
        i, j: ``(P,)`` pair indices (:func:`upper_pairs`).
        features: ``(P, M)`` features (:func:`pair_features`).
        labels: ``(P,)`` int8 labels, 1 contact, 0 not, -1 unknown (:func:`contact_labels`).
    """

    id: str
    length: int
    i: np.ndarray
    j: np.ndarray
    features: np.ndarray
    labels: np.ndarray


@dataclass(frozen=True)
class ContactPredictor:
    """A fitted regression and the best single head, both from the same training proteins.

    Attributes:
        regression: classifier from :func:`fit_regression`.
        best_head: feature column of the best single head.
        head_precision: ``(M,)`` mean training precision of every head (the selection criterion).
        select_range: range of the criterion.
        select_k: top-k of the criterion.
        n_train_pairs: labelled training pairs.
        n_train_contacts: contacts among them.
    """

    regression: Any
    best_head: int
    head_precision: np.ndarray
    select_range: str
    select_k: str
    n_train_pairs: int
    n_train_contacts: int

    def scores(self, protein: ProteinPairs) -> dict[str, np.ndarray]:
        """``(P,)`` contact scores of the regression (probability) and of the best head."""
        return {
            "regression": self.regression.predict_proba(protein.features)[:, 1],
            "best_head": protein.features[:, self.best_head],
        }


def split_train_test(records: Sequence[Any], n_train: int, *, seed: int) -> tuple[list, list]:
    """A seeded random split of ``records`` into ``n_train`` training records and the rest (both in input order).

    Raises:
        PlmscopeError: fewer than ``n_train + 1`` records (no test protein would be left).
    """
    if len(records) < n_train + 1:
        raise PlmscopeError(
            f"{len(records)} protein(s) with CA coordinates usable for contact prediction; need train_proteins "
            f"({n_train}) plus at least one test protein"
        )
    rng = np.random.default_rng(seed)
    train_pos = set(rng.choice(len(records), size=n_train, replace=False).tolist())
    train = [r for n, r in enumerate(records) if n in train_pos]
    test = [r for n, r in enumerate(records) if n not in train_pos]
    return train, test


def train_predictor(
    train: Sequence[ProteinPairs],
    *,
    C: float = 0.15,
    solver: Solver = "liblinear",
    seed: int = 0,
    standardize: bool = True,
    select_range: RangeName = "all",
    select_k: TopK = "L",
) -> ContactPredictor:
    """Fit the regression on all labelled training pairs and pick the best single head.

    Args:
        train: training proteins.
        C, solver, seed, standardize: see :func:`fit_regression`.
        select_range, select_k: criterion of the best single head (:func:`select_best_head`).

    Returns:
        The :class:`ContactPredictor`.

    Raises:
        PlmscopeError: no training protein, or training labels of a single class.
    """
    if not train:
        raise PlmscopeError("contact prediction: no training protein")
    known = [p.labels >= 0 for p in train]
    x = np.concatenate([p.features[k] for p, k in zip(train, known)])
    y = np.concatenate([p.labels[k] for p, k in zip(train, known)]).astype(np.int64)
    check_two_classes(len(y), int(y.sum()), where=f"contact regression: the {len(train)} training protein(s)")
    regression = fit_regression(x, y, C=C, solver=solver, seed=seed, standardize=standardize)
    best, head_precision = select_best_head(
        [p.features for p in train], [p.labels for p in train], [(p.i, p.j) for p in train],
        [p.length for p in train], range_name=select_range, k=select_k,
    )  # fmt: skip
    return ContactPredictor(regression, best, head_precision, select_range, select_k, len(y), int(y.sum()))


def evaluate_protein(predictor: ContactPredictor, protein: ProteinPairs) -> pd.DataFrame:
    """Precision of every method of :data:`PREDICTORS` on one test protein.

    Returns:
        Rows protein_id, length, method, then :data:`PRECISION_COLUMNS`; for ``random`` the
        precision is the base rate (expected precision of a random ranking) and ``n_correct`` is NaN.
    """
    scores: dict[str, np.ndarray | None] = {**predictor.scores(protein), "random": None}
    parts = []
    for method in PREDICTORS:
        score = scores[method]
        if score is None:
            table = precision_at_k(np.zeros(len(protein.labels)), protein.labels, protein.i, protein.j,
                                   length=protein.length)  # fmt: skip
            table["n_correct"] = np.nan
            table["precision"] = table["base_rate"]
        else:
            table = precision_at_k(score, protein.labels, protein.i, protein.j, length=protein.length)
        table.insert(0, "method", method)
        table.insert(0, "length", protein.length)
        table.insert(0, "protein_id", protein.id)
        parts.append(table)
    return pd.concat(parts, ignore_index=True)


def summarise_precision(per_protein: pd.DataFrame) -> pd.DataFrame:
    """Mean (and standard deviation) of per-protein precision per method, range and k.

    Proteins whose range has no candidate pair (NaN precision) are left out of that row's mean;
    ``n_proteins`` counts the proteins averaged.

    Args:
        per_protein: rows with method, range, k, precision (e.g. from :func:`evaluate_protein`).

    Returns:
        A DataFrame with :data:`SUMMARY_COLUMNS`, in method, range, k order of first appearance.
    """
    grouped = per_protein.groupby(["method", "separation_range", "k"], sort=False)["precision"]
    out = grouped.agg(precision="mean", precision_sd="std", n_proteins="count").reset_index()
    return out[list(SUMMARY_COLUMNS)].astype({"n_proteins": "int64"})


REGRESSION_COLUMNS: tuple[str, ...] = ("layer", "head", "feature_mean", "feature_scale", "coefficient", "intercept")
"""Columns of a saved regression table: one row per feature (head, 0-based), intercept repeated."""


def regression_table(model, *, num_layers: int, num_heads: int) -> pd.DataFrame:
    """A fitted regression (:func:`fit_regression`) as a plain table, so it is saved without pickle.

    Returns:
        One row per head in feature order (``layer * heads + head``) with :data:`REGRESSION_COLUMNS`:
        the standardisation (mean 0, scale 1 when the model does not standardise), the coefficient
        in standardised units and the intercept.
    """
    coefficients, intercept = regression_coefficients(model)
    n = num_layers * num_heads
    if len(coefficients) != n:
        raise PlmscopeError(f"regression_table: {len(coefficients)} coefficients for {num_layers} x {num_heads} heads")
    mean, scale = np.zeros(n), np.ones(n)
    if hasattr(model, "steps"):
        scaler = model[0]
        mean, scale = np.asarray(scaler.mean_, dtype=np.float64), np.asarray(scaler.scale_, dtype=np.float64)
    index = np.arange(n)
    return pd.DataFrame({"layer": index // num_heads, "head": index % num_heads, "feature_mean": mean,
                         "feature_scale": scale, "coefficient": coefficients, "intercept": intercept})  # fmt: skip


def predict_from_table(table: pd.DataFrame, features: np.ndarray) -> np.ndarray:
    """Contact probabilities of pairs from a saved regression table (:func:`regression_table`).

    Args:
        table: the regression table, rows in feature order.
        features: ``(P, layers * heads)`` pair features (:func:`pair_features`).

    Returns:
        ``(P,)`` probabilities ``sigmoid(((x - mean) / scale) . coefficient + intercept)``.

    Raises:
        PlmscopeError: missing columns, or a feature count other than the table's rows.
    """
    missing = [c for c in REGRESSION_COLUMNS if c not in table.columns]
    if missing:
        raise PlmscopeError(f"regression table lacks column(s) {missing}")
    table = table.sort_values(["layer", "head"], kind="stable")
    if features.shape[1] != len(table):
        raise PlmscopeError(f"the model has {features.shape[1]} heads but the regression was fitted on {len(table)}")
    scale = table["feature_scale"].to_numpy(dtype=np.float64)
    scale = np.where(scale > 0, scale, 1.0)
    z = (features.astype(np.float64) - table["feature_mean"].to_numpy(dtype=np.float64)) / scale
    logit = z @ table["coefficient"].to_numpy(dtype=np.float64) + float(table["intercept"].iloc[0])
    return 1.0 / (1.0 + np.exp(-logit))
