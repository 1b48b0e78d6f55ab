"""provis-semantics probing (issue #14): planted answers and the hand-computed contact metric."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from plmscope.analysis.provis_probing import (
    PROVIS_PROBE_SETTINGS,
    positive_probability,
    provis_binding_site_precision,
    provis_classification_metrics,
    provis_contact_labels,
    provis_contact_precision,
    provis_precision_at_k,
    provis_probe_center_of_gravity,
    provis_ss_labels,
    train_provis_probe,
    warmup_linear,
)

pytest.importorskip("torch")

FAST = replace(PROVIS_PROBE_SETTINGS["secondary"], learning_rate=0.05, warmup_steps=0, num_epochs=15, batch_size=4)


def _token_data(n: int, seed: int, rate: float = 0.4):
    rng = np.random.default_rng(seed)
    feats, labels = [], []
    for _ in range(n):
        length = int(rng.integers(20, 40))
        y = (rng.random(length) < rate).astype(np.int64)
        y[1:4] = 1  # at least k = round(L / 20) positives in every protein
        x = rng.normal(0.0, 1.0, size=(length, 6)).astype(np.float32)
        x[:, 0] = 4.0 * (2 * y - 1)  # the label, linearly
        y[0] = -1  # an unlabelled position (ignored)
        feats.append(x)
        labels.append(y)
    return feats, labels


def test_token_probe_on_linearly_encoded_labels_reaches_f1_one():
    tr_x, tr_y = _token_data(12, 0)
    va_x, va_y = _token_data(6, 1)
    result = train_provis_probe("token", tr_x, tr_y, va_x, va_y, settings=FAST, metric="f1")
    assert result.metrics["f1"] == 1.0 and result.metrics["score"] == 1.0
    assert result.metrics["precision"] == 1.0 and result.metrics["recall"] == 1.0
    assert result.best_epoch == int(np.argmin(result.val_losses))
    assert len(result.logits) == 6 and result.logits[0].shape == (len(va_y[0]), 2)


def test_binding_site_probe_reaches_precision_one():
    tr_x, tr_y = _token_data(12, 2, rate=0.1)
    va_x, va_y = _token_data(6, 3, rate=0.1)
    result = train_provis_probe("token", tr_x, tr_y, va_x, va_y, settings=FAST, metric="binding_site_precision")
    assert result.metrics["precision_at_k"] == 1.0


def _contact_data(n: int, seed: int):
    """Residues in 3 groups (one-hot embeddings): a contact is a same-group pair; |i - j| < 6 is -1."""
    rng = np.random.default_rng(seed)
    feats, labels = [], []
    for _ in range(n):
        length = int(rng.integers(20, 30))
        group = rng.integers(0, 3, size=length)
        h = np.eye(3, dtype=np.float32)[group] * 2.0
        y = (group[:, None] == group[None, :]).astype(np.int64)
        idx = np.arange(length)
        y[np.abs(idx[:, None] - idx[None, :]) < 6] = -1
        y[3, :] = y[:, 3] = -1  # a residue without coordinates
        feats.append(h)
        labels.append(y)
    return feats, labels


def test_contact_embedding_probe_on_planted_contacts_reaches_precision_one():
    tr_x, tr_y = _contact_data(8, 4)
    va_x, va_y = _contact_data(4, 5)
    settings = replace(FAST, batch_size=2)
    result = train_provis_probe("contact_embedding", tr_x, tr_y, va_x, va_y, settings=settings,
                                metric="contact_precision", pair_chunk=50)
    assert result.metrics["precision_at_k"] == 1.0
    z = result.logits[0]
    np.testing.assert_allclose(z, z.transpose(1, 0, 2), rtol=1e-5, atol=1e-5)  # symmetric at evaluation


def test_contact_attention_probe_runs_and_learns():
    rng = np.random.default_rng(6)
    feats, labels = [], []
    for _ in range(8):
        length = 20
        y = (rng.random((length, length)) < 0.3).astype(np.int64)
        y = np.triu(y, 1) + np.triu(y, 1).T
        idx = np.arange(length)
        y[np.abs(idx[:, None] - idx[None, :]) < 6] = -1
        att = rng.random((2, length, length)).astype(np.float32) * 0.1
        att[0] += 0.5 * (y == 1)  # head 0 attends to contacts
        feats.append(att)
        labels.append(y)
    result = train_provis_probe("contact_attention", feats[:5], labels[:5], feats[5:], labels[5:],
                                settings=replace(FAST, batch_size=2), metric="contact_precision")
    assert result.metrics["precision_at_k"] == 1.0
    assert result.weight.shape == (2, 2)


def test_contact_metric_on_a_hand_made_matrix_counts_each_pair_twice():
    L = 15  # k = round(15 / 5) = 3 entries of the full matrix
    labels = np.zeros((L, L), dtype=np.int64)
    idx = np.arange(L)
    labels[np.abs(idx[:, None] - idx[None, :]) < 6] = -1
    labels[0, 7] = labels[7, 0] = 1  # the best-scored pair is a contact
    labels[2, 12] = labels[12, 2] = 1  # a contact scored third
    scores = np.zeros((L, L))
    for (a, b), s in {(0, 7): 0.9, (1, 9): 0.8, (2, 12): 0.7}.items():
        scores[a, b] = scores[b, a] = s
    # taken: (0,7), (7,0) [contacts], then one copy of (1,9) [not]: 2 / 3.
    assert provis_contact_precision([scores], [labels]) == pytest.approx(2 / 3)
    # over distinct pairs the top 3 would be (0,7), (1,9), (2,12): 2 / 3 as well; at k = 2 entries
    # (L = 10 -> round(2.0)) provis takes only the best pair, twice: 1.0 where distinct pairs give 1 / 2.
    assert provis_contact_precision([scores[:10, :10]], [labels[:10, :10]]) == 1.0
    # lengths override L (TAPE's protein_length); Python rounds half to even: round(12.5 / 5) = 2
    assert provis_contact_precision([scores], [labels], lengths=[12.5]) == 1.0


def test_precision_at_k_breaks_score_ties_towards_positives_and_skips_empty_proteins():
    assert provis_precision_at_k([np.array([0.5, 0.5, 0.1])], [np.array([0, 1, 1])], [1]) == 1.0
    assert provis_precision_at_k([np.array([0.5, 0.4]), np.array([0.9])], [np.array([1, 0]), np.array([-1])],
                                 [1, 1]) == 1.0
    assert math.isnan(provis_precision_at_k([np.array([0.2])], [np.array([-1])], [1]))
    # binding sites: k = round(n_labelled / 20) = 2 of 40 labelled residues
    y = np.zeros(42, dtype=np.int64)
    y[[0, -1]] = -1
    y[[5, 6]] = 1
    s = np.linspace(0, 1, 42)
    s[5], s[6], s[-1] = 2.0, 1.5, 9.0  # the unlabelled pad scores highest but is not a candidate
    assert provis_binding_site_precision([s], [y]) == 1.0


def test_classification_metrics_pool_over_residues_and_ignore_unlabelled():
    labels = [np.array([1, 0, -1]), np.array([1, 1])]
    logits = [np.array([[0, 1], [0, 1], [0, 1]]), np.array([[1, 0], [0, 1]])]
    m = provis_classification_metrics(labels, logits)
    assert (m["precision"], m["recall"]) == (2 / 3, 2 / 3)
    assert m["f1"] == pytest.approx(2 / 3) and m["accuracy"] == pytest.approx(2 / 4)
    assert positive_probability(np.array([0.0, 0.0])) == 0.5


def test_labels_center_of_gravity_and_schedule():
    ca = np.array([[0, 0, 0], [100, 0, 0]] * 4, dtype=float)[:7]
    ca[6] = [0, 0, 5.0]
    valid = np.ones(7, dtype=bool)
    labels = provis_contact_labels(ca, valid)
    assert labels[0, 6] == labels[6, 0] == 1 and labels[0, 1] == -1 and labels[1, 6] == -1
    valid[6] = False
    assert provis_contact_labels(ca, valid)[0, 6] == -1
    assert provis_ss_labels("HGE T-", "helix").tolist() == [1, 1, 0, 0, 0, 0]
    assert provis_ss_labels("HGE T-", "turn_bend").tolist() == [0, 0, 0, 0, 1, 0]
    assert provis_probe_center_of_gravity([1.0, 1.0, 2.0]) == pytest.approx(1.25)  # 0-based: layer 1 -> 0
    assert math.isnan(provis_probe_center_of_gravity([0.0, 0.0]))
    assert [warmup_linear(s, 2, 6) for s in range(7)] == [0.0, 0.5, 1.0, 0.75, 0.5, 0.25, 0.0]


def test_semantics_switch_for_probe_layers_and_gravity():
    from plmscope.analysis.semantics import probe_center_of_gravity, probe_layers

    assert probe_layers(3, semantics="provis") == [1, 2, 3]
    assert probe_layers(3, semantics="plmscope") == [0, 1, 2, 3]
    scores = {1: 1.0, 2: 1.0, 3: 2.0}
    assert probe_center_of_gravity(scores, semantics="provis") == pytest.approx(1.25)
    assert probe_center_of_gravity(scores, semantics="plmscope") == pytest.approx(2.25)
