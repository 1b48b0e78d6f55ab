"""Probing as the authors ran it (salesforce/provis ``probing/``, on TAPE), as pure functions over arrays (issue #14).

Definitions reproduced (plmscope's corrected probes are in :mod:`plmscope.analysis.probing`):

- **Classifier**: one linear layer on the frozen features with dropout 0.5 on its input, two
  output logits, cross-entropy over the labelled positions (label -1 ignored), trained with
  AdamW (weight decay 0.01 on the weight, none on the bias, eps 1e-6), a linear warm-up then
  linear decay of the learning rate over ``int(n_train / batch_size * epochs)`` steps, gradient
  norm clipped to 1, minibatches of ``batch_size`` *proteins* (loss averaged over all labelled
  positions of the batch), training proteins reshuffled every epoch, up to 50 epochs with early
  stopping when the validation loss has not improved for 3 epochs. Metrics are those of the
  epoch with the lowest validation loss, **on that same validation set** (TAPE's valid split).
  Settings per task: :data:`PROVIS_PROBE_SETTINGS` (``probing/scripts/*.sh``).
- **Predictions**: argmax of the two logits (a tie predicts 0); precision, recall and F1 pooled
  over all labelled residues (``probing/metrics.py``).
- **precision@k** (:func:`provis_precision_at_k`): per protein the labelled candidates sorted by
  the softmax probability of class 1, ties to the positive label (``sorted((p, label),
  reverse=True)``), the first ``k`` kept, pooled over proteins. Binding sites: ``k =
  int(round(n_labelled / 20))``. Contacts (:func:`provis_contact_precision`): every entry of
  the L x L label matrix other than -1, i.e. both (i, j) and (j, i), with
  ``k = int(round(L / 5))``: each pair enters twice with the same score, so this is about
  precision at L/10 distinct pairs.
- **Contact embedding probe** (TAPE ``PairwiseContactPredictionHead``): features
  ``[h_i * h_j, h_i - h_j]``, dropout, linear, then the (i, j) and (j, i) logits averaged. At
  evaluation the difference half cancels exactly (only the product survives); in training the two
  directions see independent dropout masks, so it does not. Every labelled pair of every training
  protein is used (no subsampling).
- **Contact attention probe** (provis ``PairwiseContactPredictionFromAttentionHead``): the
  attention of every head of the layer, symmetrised ``(a_ij + a_ji) / 2``, dropout, linear; the
  (i, j) and (j, i) entries are separate training examples.
- **Layers**: the output of layers 1..N (provis truncates the model to ``num_hidden_layers``);
  no layer 0 (embedding) probe.
- **Center of gravity** (:func:`provis_probe_center_of_gravity`): ``sum_i i s_i / sum_i s_i``
  over the per-layer scores with i the 0-based index of layers 1..N (layer 1 -> 0), computed only
  when the scores sum to a positive number (a missing layer scores 0, as in ``report.py``).

Training is minibatched over proteins and, for contacts, over pairs within a protein (gradients
accumulated), so 5,000-protein splits fit on a workstation GPU or a CPU. torch is imported lazily.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

from plmscope.errors import PlmscopeError

ProbeKind = Literal["token", "contact_embedding", "contact_attention"]


@dataclass(frozen=True)
class ProvisProbeSettings:
    """Training settings of one provis probe (``probing/scripts``, TAPE ``run_train`` defaults)."""

    learning_rate: float
    batch_size: int
    warmup_steps: int
    num_epochs: int = 50
    patience: int = 3
    dropout: float = 0.5
    weight_decay: float = 0.01
    adam_eps: float = 1e-6
    max_grad_norm: float = 1.0
    seed: int = 42


PROVIS_PROBE_SETTINGS: dict[str, ProvisProbeSettings] = {
    "secondary": ProvisProbeSettings(learning_rate=1e-4, batch_size=8, warmup_steps=500),
    "binding_site": ProvisProbeSettings(learning_rate=1e-4, batch_size=8, warmup_steps=500),
    "contact_embedding": ProvisProbeSettings(learning_rate=5e-5, batch_size=2, warmup_steps=2000),
    "contact_attention": ProvisProbeSettings(learning_rate=1e-4, batch_size=16, warmup_steps=2000),
}
"""``probe_ss4_*.sh``, ``probe_sites.sh``, ``probe_contact.sh``, ``probe_contact_attention.sh``."""

PROVIS_PROBE_LAYERS_FROM = 1
"""provis probes the outputs of layers 1..N; layer 0 (the embedding layer) is not probed."""

PROVIS_PROBE_MAX_RESIDUES: dict[str, int | None] = {
    "secondary": None, "binding_site": 512, "contact_embedding": None, "contact_attention": None,
}  # fmt: skip
"""Residues per protein provis's datasets keep: ``BindingSiteDataset`` cuts the sequence *and* its
label positions to ``max_seqlen = 512`` residues before tokenising (the model sees 512 residues plus
its special tokens); TAPE's secondary-structure and ProteinNet datasets keep whole chains."""

PROVIS_PROBE_MAX_TOKENS: dict[str, int | None] = {
    "secondary": None, "binding_site": None, "contact_embedding": None, "contact_attention": 512,
}  # fmt: skip
"""Tokens per protein, special tokens included: the attention contact probe runs at
``--max_seq_len 512`` (``probe_contact_attention.sh``), i.e. 510 residues with BERT's <cls>/<sep>."""


def provis_kept_residues(settings: str, n_residues: int, *, n_special: int = 2) -> int:
    """Residues of a protein that a provis probe reads: the model's input *and* the labels.

    Args:
        settings: key of :data:`PROVIS_PROBE_SETTINGS` (the probe's dataset).
        n_residues: residues available (the sequence, already cut to the model's limit).
        n_special: special tokens the model adds (BERT: 2), counted in :data:`PROVIS_PROBE_MAX_TOKENS`.

    Returns:
        The first ``n`` residues kept: the sequence is cut to them before the model runs, as
        provis's datasets cut the sequence, not only the labels.
    """
    n = int(n_residues)
    residues, tokens = PROVIS_PROBE_MAX_RESIDUES[settings], PROVIS_PROBE_MAX_TOKENS[settings]
    if residues is not None:
        n = min(n, residues)
    if tokens is not None:
        n = min(n, tokens - int(n_special))
    return max(n, 0)

# ---------------------------------------------------------------- labels and metrics


def provis_contact_labels(ca: np.ndarray, valid: np.ndarray, *, cutoff: float = 8.0, min_separation: int = 6) -> np.ndarray:
    """TAPE's ProteinNet contact map: ``(L, L)`` int64, 1 if CA-CA ``< cutoff``, else 0; -1 where a residue
    lacks coordinates or ``|i - j| < min_separation``."""
    ca = np.asarray(ca, dtype=np.float64)
    valid = np.asarray(valid, dtype=bool) & np.isfinite(ca).all(axis=1)
    diff = ca[:, None, :] - ca[None, :, :]
    with np.errstate(invalid="ignore"):
        close = np.sqrt((diff**2).sum(-1)) < cutoff
    out = close.astype(np.int64)
    idx = np.arange(len(valid))
    invalid = ~(valid[:, None] & valid[None, :]) | (np.abs(idx[:, None] - idx[None, :]) < min_separation)
    out[invalid] = -1
    return out


def provis_ss_labels(ss8: str, cls: str) -> np.ndarray:
    """One-vs-all secondary-structure labels (provis ss4): 1 where the residue is ``cls``, else 0.

    ``cls``: ``helix`` (DSSP H G I), ``strand`` (E B) or ``turn_bend`` (T S); every other residue,
    DSSP blank included, is a negative (provis's ss4 keeps blanks as class 3)."""
    letters = {"helix": "HGI", "strand": "EB", "turn_bend": "TS"}
    if cls not in letters:
        raise PlmscopeError(f"secondary-structure class: one of {list(letters)}, got {cls!r}")
    return np.array([1 if c in letters[cls] else 0 for c in ss8], dtype=np.int64)


def positive_probability(logits: np.ndarray) -> np.ndarray:
    """Softmax probability of class 1 of ``(..., 2)`` logits, in float64 (as scipy's softmax in provis)."""
    z = np.asarray(logits, dtype=np.float64)
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e[..., 1] / e.sum(axis=-1)


def provis_precision_at_k(scores: Sequence[np.ndarray], labels: Sequence[np.ndarray], ks: Sequence[int]) -> float:
    """provis ``precision_at_ks``: pooled precision of each protein's top ``k`` labelled candidates.

    Args:
        scores: per protein, scores of its candidates (any shape; flattened), e.g. probabilities.
        labels: per protein, labels of the same candidates: 1, 0, or -1 (not a candidate).
        ks: per protein, candidates kept.

    Candidates sort by score, ties to label 1 first; proteins without candidates are skipped.
    Returns NaN when nothing is kept (provis would divide by zero).
    """
    if not (len(scores) == len(labels) == len(ks)):
        raise PlmscopeError("provis_precision_at_k: scores, labels and ks differ in length")
    hits = taken = 0
    for s, y, k in zip(scores, labels, ks):
        s = np.asarray(s, dtype=np.float64).ravel()
        y = np.asarray(y).ravel()
        if s.shape != y.shape:
            raise PlmscopeError(f"provis_precision_at_k: {s.size} scores for {y.size} labels")
        keep = y != -1
        if not keep.any():
            continue
        s, y = s[keep], y[keep]
        order = np.lexsort((-y, -s))[: max(int(k), 0)]
        hits += int((y[order] == 1).sum())
        taken += len(order)
    return hits / taken if taken else float("nan")


def provis_contact_precision(
    score_matrices: Sequence[np.ndarray], label_matrices: Sequence[np.ndarray], lengths: Sequence[int] | None = None
) -> float:
    """provis's contact "precision@L/5": top ``int(round(L / 5))`` entries of the full L x L matrix.

    Both (i, j) and (j, i) are candidates (each pair counted twice), entries labelled -1
    (``|i - j| < 6`` or missing coordinates) are not. ``lengths`` defaults to each matrix's L
    (TAPE's ``protein_length``).
    """
    if lengths is None:
        lengths = [np.asarray(m).shape[0] for m in label_matrices]
    ks = [round(n / 5) for n in lengths]
    return provis_precision_at_k(score_matrices, label_matrices, ks)


def provis_binding_site_precision(scores: Sequence[np.ndarray], labels: Sequence[np.ndarray]) -> float:
    """provis's binding-site precision@L/20: ``k = int(round(n_labelled / 20))`` per protein."""
    ks = [round(int((np.asarray(y) != -1).sum()) / 20) for y in labels]
    return provis_precision_at_k(scores, labels, ks)


def provis_classification_metrics(labels: Sequence[np.ndarray], logits: Sequence[np.ndarray]) -> dict[str, float]:
    """Pooled accuracy, precision, recall and F1 of argmax predictions over labelled positions (``metrics.py``).

    NaN where a ratio has a zero denominator (provis: numpy division by zero)."""
    tp = fp = tn = fn = 0
    for y, z in zip(labels, logits):
        y = np.asarray(y).ravel()
        pred = np.asarray(z).reshape(-1, 2).argmax(-1)
        m = y != -1
        y, pred = y[m], pred[m]
        tp += int(((pred == 1) & (y == 1)).sum())
        fp += int(((pred == 1) & (y == 0)).sum())
        tn += int(((pred == 0) & (y == 0)).sum())
        fn += int(((pred == 0) & (y == 1)).sum())

    def ratio(a: float, b: float) -> float:
        return a / b if b else float("nan")

    p, r = ratio(tp, tp + fp), ratio(tp, tp + fn)
    f1 = ratio(2 * p * r, p + r) if not (math.isnan(p) or math.isnan(r)) else float("nan")
    return {"accuracy": ratio(tp + tn, tp + tn + fp + fn), "precision": p, "recall": r, "f1": f1}


def provis_probe_center_of_gravity(scores: Sequence[float]) -> float:
    """``report.py``: ``sum_i i s_i / sum_i s_i`` over layers 1..N with i = 0..N-1 (0-based); NaN when
    the scores do not sum to a positive number. Missing layers should be passed as 0, as provis does."""
    s = np.nan_to_num(np.asarray(scores, dtype=np.float64), nan=0.0)
    if s.size == 0 or s.sum() <= 0:
        return float("nan")
    return float((np.arange(len(s)) * (s / s.sum())).sum())


# ---------------------------------------------------------------- training


@dataclass
class ProvisProbeResult:
    """Outcome of :func:`train_provis_probe`.

    Attributes:
        metrics: task metrics on the validation set at the best epoch (``loss`` included).
        best_epoch: 0-based epoch of the lowest validation loss.
        epochs_run: epochs trained before stopping.
        val_losses: validation loss after each epoch.
        logits: validation logits at the best epoch, per protein (``(L, 2)`` token, ``(L, L, 2)``
            contacts; entries of unlabelled contact pairs still scored).
        weight, bias: the best epoch's linear layer, ``(2, D)`` and ``(2,)``.
    """

    metrics: dict[str, float]
    best_epoch: int
    epochs_run: int
    val_losses: list[float] = field(default_factory=list)
    logits: list[np.ndarray] = field(default_factory=list)
    weight: np.ndarray | None = None
    bias: np.ndarray | None = None


def warmup_linear(step: int, warmup_steps: int, total_steps: int) -> float:
    """TAPE ``WarmupLinearSchedule`` learning-rate multiplier at optimiser step ``step`` (0-based)."""
    if step < warmup_steps:
        return step / max(1, warmup_steps)
    return max(0.0, (total_steps - step) / max(1.0, total_steps - warmup_steps))


def _pairs(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Upper-triangle pairs i < j labelled 0/1 (the matrix is symmetric)."""
    i, j = np.triu_indices(labels.shape[0], k=1)
    keep = labels[i, j] != -1
    return i[keep], j[keep]


def train_provis_probe(
    kind: ProbeKind,
    train_features: Sequence[np.ndarray],
    train_labels: Sequence[np.ndarray],
    valid_features: Sequence[np.ndarray],
    valid_labels: Sequence[np.ndarray],
    *,
    settings: ProvisProbeSettings,
    metric: Literal["f1", "binding_site_precision", "contact_precision"] = "f1",
    valid_lengths: Sequence[int] | None = None,
    device: str = "cpu",
    pair_chunk: int = 65536,
    progress: Callable[[int, float], None] | None = None,
) -> ProvisProbeResult:
    """Train and evaluate one provis linear probe.

    Args:
        kind: ``token``: features ``(L, D)`` per protein, labels ``(L,)`` (1/0/-1);
            ``contact_embedding``: features ``(L, D)`` residue embeddings, labels the ``(L, L)``
            TAPE contact map (:func:`provis_contact_labels`); ``contact_attention``: features
            ``(H, L, L)`` attention of one layer, labels ``(L, L)``.
        train_features, train_labels, valid_features, valid_labels: per protein (may be lazy
            sequences, e.g. memory maps; one protein is read at a time).
        settings: :data:`PROVIS_PROBE_SETTINGS` entry.
        metric: headline metric added to ``metrics["score"]``: ``f1`` (secondary structure),
            ``binding_site_precision`` (precision@L/20), ``contact_precision`` (provis's
            double-counted precision@L/5).
        valid_lengths: TAPE's ``protein_length`` of each validation protein (contacts; default L).
        device: torch device.
        pair_chunk: contact pairs per forward pass (memory bound; gradients are accumulated).
        progress: called with (epoch, validation loss) after each epoch.

    Returns:
        :class:`ProvisProbeResult`; metrics hold accuracy, precision, recall, f1 (pooled argmax),
        the precision@k of the task where it has one, ``loss`` and ``score``.
    """
    import torch

    if not train_features or not valid_features:
        raise PlmscopeError("provis probe: empty training or validation set")
    if len(train_features) != len(train_labels) or len(valid_features) != len(valid_labels):
        raise PlmscopeError("provis probe: features and labels differ in number of proteins")
    dim = _feature_dim(kind, train_features[0])
    generator = torch.Generator().manual_seed(settings.seed)
    torch_state = torch.random.get_rng_state()
    torch.manual_seed(settings.seed)
    try:
        linear = torch.nn.Linear(dim, 2).to(device)
        dropout = torch.nn.Dropout(settings.dropout)
        optimizer = torch.optim.AdamW(
            [{"params": [linear.weight], "weight_decay": settings.weight_decay},
             {"params": [linear.bias], "weight_decay": 0.0}],
            lr=settings.learning_rate, eps=settings.adam_eps,
        )  # fmt: skip
        n_train = len(train_features)
        total_steps = int(n_train / settings.batch_size * settings.num_epochs)
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda step: warmup_linear(step, settings.warmup_steps, total_steps)
        )
        best_loss, since_best = float("inf"), 0
        result = ProvisProbeResult(metrics={}, best_epoch=-1, epochs_run=0)
        for epoch in range(settings.num_epochs):
            linear.train()
            dropout.train()
            order = torch.randperm(n_train, generator=generator).tolist()
            for start in range(0, n_train, settings.batch_size):
                batch = order[start : start + settings.batch_size]
                n_labelled = sum(_n_examples(kind, train_labels[p]) for p in batch)
                optimizer.zero_grad()
                if n_labelled:
                    for p in batch:
                        for logits, target in _forward(kind, linear, dropout, train_features[p], train_labels[p],
                                                       device, pair_chunk):  # fmt: skip
                            loss = torch.nn.functional.cross_entropy(logits, target, reduction="sum") / n_labelled
                            loss.backward()
                    torch.nn.utils.clip_grad_norm_(linear.parameters(), settings.max_grad_norm)
                optimizer.step()
                scheduler.step()
            val_loss, logits = _evaluate(kind, linear, dropout, valid_features, valid_labels, settings.batch_size,
                                         device, pair_chunk)  # fmt: skip
            result.val_losses.append(val_loss)
            result.epochs_run = epoch + 1
            if progress is not None:
                progress(epoch, val_loss)
            if val_loss < best_loss:
                best_loss, since_best = val_loss, 0
                result.best_epoch = epoch
                result.logits = logits
                result.weight = linear.weight.detach().cpu().numpy().copy()
                result.bias = linear.bias.detach().cpu().numpy().copy()
                result.metrics = _metrics(kind, metric, valid_labels, logits, valid_lengths) | {"loss": val_loss}
            else:
                since_best += 1
            if settings.patience > 0 and since_best >= settings.patience:
                break
    finally:
        torch.random.set_rng_state(torch_state)
    return result


def _feature_dim(kind: ProbeKind, first: np.ndarray) -> int:
    shape = np.shape(first)
    if kind == "token":
        return int(shape[-1])
    if kind == "contact_embedding":
        return 2 * int(shape[-1])
    if kind == "contact_attention":
        return int(shape[0])
    raise PlmscopeError(f"provis probe kind: one of token, contact_embedding, contact_attention; got {kind!r}")


def _n_examples(kind: ProbeKind, labels: np.ndarray) -> int:
    """Labelled entries the loss averages over (contacts: ordered pairs, both directions)."""
    return int((np.asarray(labels) != -1).sum())


def _forward(kind, linear, dropout, features, labels, device, pair_chunk):
    """Yield ``(logits, targets)`` chunks of one protein covering every labelled entry once.

    Contacts yield each unordered pair i < j with weight 2 (its two ordered entries share the
    symmetrised prediction and the label) for the embedding probe; the attention probe yields both
    ordered entries, each with its own dropout mask.
    """
    import torch

    labels = np.asarray(labels)
    if kind == "token":
        x = torch.as_tensor(np.asarray(features, dtype=np.float32), device=device)
        y = torch.as_tensor(labels, dtype=torch.long, device=device)
        keep = y != -1
        yield linear(dropout(x[keep])), y[keep]
        return
    i, j = _pairs(labels)
    if kind == "contact_embedding":
        h = torch.as_tensor(np.asarray(features, dtype=np.float32), device=device)
        for s in range(0, len(i), pair_chunk):
            a = torch.as_tensor(i[s : s + pair_chunk], device=device)
            b = torch.as_tensor(j[s : s + pair_chunk], device=device)
            prod, diff = h[a] * h[b], h[a] - h[b]
            f_ab = dropout(torch.cat([prod, diff], 1))
            f_ba = dropout(torch.cat([prod, -diff], 1))
            logits = 0.5 * (f_ab @ linear.weight.T + f_ba @ linear.weight.T) + linear.bias
            y = torch.as_tensor(labels[i[s : s + pair_chunk], j[s : s + pair_chunk]], dtype=torch.long, device=device)
            # both ordered entries: same logits, same label -> twice the loss of the unordered pair
            yield torch.cat([logits, logits]), torch.cat([y, y])
        return
    att = np.asarray(features, dtype=np.float32)
    for s in range(0, len(i), pair_chunk):
        a, b = i[s : s + pair_chunk], j[s : s + pair_chunk]
        sym = torch.as_tensor(0.5 * (att[:, a, b] + att[:, b, a]).T, device=device)
        y = torch.as_tensor(labels[a, b], dtype=torch.long, device=device)
        yield torch.cat([linear(dropout(sym)), linear(dropout(sym))]), torch.cat([y, y])


def _evaluate(kind, linear, dropout, features, labels, batch_size, device, pair_chunk):
    """Validation loss (mean over batches of each batch's mean loss, TAPE's accumulator) and logits."""
    import torch

    linear.eval()
    dropout.eval()
    batch_losses, all_logits = [], []
    with torch.no_grad():
        for start in range(0, len(features), batch_size):
            total, n = 0.0, 0
            for p in range(start, min(start + batch_size, len(features))):
                for logits, target in _forward(kind, linear, dropout, features[p], labels[p], device, pair_chunk,
                                               ):  # fmt: skip
                    total += float(torch.nn.functional.cross_entropy(logits, target, reduction="sum"))
                    n += int(target.numel())
                all_logits.append(_full_logits(kind, linear, features[p], device))
            if n:
                batch_losses.append(total / n)
    return (float(np.mean(batch_losses)) if batch_losses else float("nan")), all_logits


def _full_logits(kind, linear, features, device) -> np.ndarray:
    """Evaluation logits of every position (token ``(L, 2)``) or pair (contacts ``(L, L, 2)``, symmetric)."""
    import torch

    w = linear.weight.detach()
    b = linear.bias.detach()
    if kind == "token":
        x = torch.as_tensor(np.asarray(features, dtype=np.float32), device=device)
        return (x @ w.T + b).cpu().numpy()
    if kind == "contact_embedding":
        h = torch.as_tensor(np.asarray(features, dtype=np.float32), device=device)
        d = h.shape[1]
        # the difference half cancels once (i, j) and (j, i) are averaged without dropout
        out = torch.stack([(h * w[k, :d]) @ h.T + b[k] for k in range(2)], dim=-1)
        return out.cpu().numpy()
    att = torch.as_tensor(np.asarray(features, dtype=np.float32), device=device)
    sym = 0.5 * (att + att.transpose(1, 2))
    return (torch.einsum("hij,kh->ijk", sym, w) + b).cpu().numpy()


def _metrics(kind, metric, labels, logits, lengths) -> dict[str, float]:
    out = provis_classification_metrics(labels, logits)
    probs = [positive_probability(z) for z in logits]
    if metric == "contact_precision":
        out["precision_at_k"] = provis_contact_precision(probs, labels, lengths)
    elif metric == "binding_site_precision":
        out["precision_at_k"] = provis_binding_site_precision(probs, labels)
    elif metric != "f1":
        raise PlmscopeError(f"provis probe metric: f1, binding_site_precision or contact_precision; got {metric!r}")
    out["score"] = out["f1"] if metric == "f1" else out["precision_at_k"]
    return out


# ---------------------------------------------------------------- the probing verb under provis semantics


@dataclass(frozen=True)
class ProvisProbeJob:
    """One provis probe the verb trains per layer.

    Attributes:
        name: key of the labels (a task, or ``contact_embedding`` / ``contact_attention``).
        probe: ``embedding`` or ``attention`` (the features), as in plmscope's ``probing.csv``.
        task: plmscope task name (``helix``, ``strand``, ``turn_bend``, ``binding_site``, ``contact``).
        kind: :data:`ProbeKind` of :func:`train_provis_probe`.
        settings: key of :data:`PROVIS_PROBE_SETTINGS` (and of the residue limits, :func:`provis_kept_residues`).
        metric: headline metric (``metric`` argument of :func:`train_provis_probe`).
    """

    name: str
    probe: str
    task: str
    kind: ProbeKind
    settings: str
    metric: Literal["f1", "binding_site_precision", "contact_precision"]


PROVIS_SS_CLASSES: tuple[str, ...] = ("helix", "strand", "turn_bend")

PROVIS_RESULT_COLUMNS: tuple[str, ...] = (
    "semantics", "probe", "task", "layer", "metric", "score", "accuracy", "precision", "recall", "f1",
    "valid_loss", "best_epoch", "epochs_run", "n_train_proteins", "n_valid_proteins",
)  # fmt: skip
"""Columns of ``probing.csv`` under provis semantics: ``layer`` is the 1-based number of the
transformer layer whose output was probed (1..N; no embedding-layer probe); ``value`` the headline
metric (F1, or provis's precision@k) on the validation set at the epoch of lowest validation loss;
``best_epoch`` 0-based; ``semantics`` is ``provis``."""

PROVIS_GRAVITY_COLUMNS: tuple[str, ...] = ("semantics", "probe", "task", "metric", "num_layers", "center_of_gravity_0based")
"""Columns of ``probing_gravity.csv`` under provis: ``center_of_gravity_0based`` is provis's
``report.py`` value, a 0-based layer index (layer 1 -> 0); add 1 for a layer number."""


def provis_probe_jobs(tasks: Sequence[str]) -> list[ProvisProbeJob]:
    """The provis probes of plmscope ``tasks``: one embedding probe per task, plus the attention contact probe."""
    jobs = []
    for task in tasks:
        if task in PROVIS_SS_CLASSES:
            jobs.append(ProvisProbeJob(task, "embedding", task, "token", "secondary", "f1"))
        elif task == "binding_site":
            jobs.append(ProvisProbeJob(task, "embedding", task, "token", "binding_site", "binding_site_precision"))
        elif task == "contact":
            jobs.append(ProvisProbeJob("contact_embedding", "embedding", task, "contact_embedding", "contact_embedding",
                                       "contact_precision"))  # fmt: skip
            jobs.append(ProvisProbeJob("contact_attention", "attention", task, "contact_attention", "contact_attention",
                                       "contact_precision"))  # fmt: skip
        else:
            raise PlmscopeError(f"provis probe task: unknown {task!r}")
    return jobs


def provis_record_labels(
    record, jobs: Sequence[ProvisProbeJob], *, limit: int, n_special: int = 2, cutoff: float = 8.0,
    min_separation: int = 6,
) -> dict[str, np.ndarray]:  # fmt: skip
    """Labels of one protein (a :class:`plmscope.data.table.ProteinRecord`) for each job it is annotated for.

    The sequence is cut to ``limit`` residues (the model's limit), then to what the job's dataset
    keeps (:func:`provis_kept_residues`); the labels' length is the residues the job's model input
    holds (the features of a job come from a forward pass over exactly those residues). Secondary
    structure: :func:`provis_ss_labels`; binding sites: 1 at annotated sites, else 0; contacts:
    :func:`provis_contact_labels` (``(L, L)``).
    """
    n = min(len(record.sequence), int(limit))
    out: dict[str, np.ndarray] = {}
    for job in jobs:
        m = provis_kept_residues(job.settings, n, n_special=n_special)
        if job.task in PROVIS_SS_CLASSES and record.ss8 is not None:
            out[job.name] = provis_ss_labels(record.ss8[:m], job.task)
        elif job.task == "binding_site" and record.sites is not None:
            y = np.zeros(m, dtype=np.int64)
            sites = np.asarray(record.sites, dtype=np.int64)
            y[sites[sites < m]] = 1
            out[job.name] = y
        elif job.task == "contact" and record.ca is not None:
            out[job.name] = provis_contact_labels(record.ca[:m], record.valid[:m], cutoff=cutoff,
                                                  min_separation=min_separation)  # fmt: skip
    return out


def provis_probe_row(job: ProvisProbeJob, layer: int, result: ProvisProbeResult, *, n_train: int, n_valid: int) -> dict:
    """One row of :data:`PROVIS_RESULT_COLUMNS` (``layer``: 1-based transformer layer)."""
    m = result.metrics
    return {
        "semantics": "provis", "probe": job.probe, "task": job.task, "layer": int(layer),
        "metric": "f1" if job.metric == "f1" else "precision_at_k", "score": m.get("score", float("nan")),
        "accuracy": m.get("accuracy"), "precision": m.get("precision"), "recall": m.get("recall"), "f1": m.get("f1"),
        "valid_loss": m.get("loss"), "best_epoch": result.best_epoch, "epochs_run": result.epochs_run,
        "n_train_proteins": n_train, "n_valid_proteins": n_valid,
    }  # fmt: skip


def provis_probe_gravity(table: pd.DataFrame, num_layers: int) -> pd.DataFrame:
    """provis's center of gravity per probe and task from a :data:`PROVIS_RESULT_COLUMNS` table.

    Layers 1..``num_layers``, 0-based index, a layer without a score counts 0
    (:func:`provis_probe_center_of_gravity`). Returns a DataFrame with :data:`PROVIS_GRAVITY_COLUMNS`.
    """
    rows = []
    for (probe, task), part in table.groupby(["probe", "task"], sort=False):
        scores = dict(zip(part["layer"].astype(int), part["score"].astype(float)))
        values = [scores.get(layer, 0.0) for layer in range(1, int(num_layers) + 1)]
        rows.append({"semantics": "provis", "probe": probe, "task": task, "metric": part["metric"].iloc[0],
                     "num_layers": int(num_layers), "center_of_gravity_0based": provis_probe_center_of_gravity(values)})  # fmt: skip
    return pd.DataFrame(rows, columns=list(PROVIS_GRAVITY_COLUMNS))
