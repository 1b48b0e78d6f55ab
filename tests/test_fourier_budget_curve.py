"""Budget curves: one tidy row per (method, budget, test set), held-out points, errors kept as rows."""

import numpy as np
import pytest

from plmscope.errors import PlmscopeError
from plmscope.fourier import Landscape
from plmscope.fourier.budget_curve import COLUMNS, budget_curve, hamming_points
from plmscope.fourier.planted import planted_onehot_function
from plmscope.viz.epistasis_plots import plot_budget_curve


def test_curve_table_and_figure():
    n, q = 5, 8
    f = planted_onehot_function(n, q, n_pairs=6, seed=1)
    calls = []
    land = Landscape(lambda X: calls.append(len(X)) or f(X), n, q)
    curve = budget_curve(
        land, {"lasso": None, "hier": {"method": "hierarchical", "max_order": 2}, "qsft": {"b": 3}},
        [300, 3000], uniform=300, per_distance=100, n_boot=50,
    )  # fmt: skip
    assert list(curve.columns) == COLUMNS
    assert set(curve["test_set"]) == {"uniform", "hamming_1", "hamming_2", "hamming_3"}
    assert len(curve) == 3 * 2 * 4
    ok = curve[curve["status"] == "ok"]
    assert (ok["queries"] <= ok["budget"]).all()
    hier = ok[(ok["method"] == "hier") & (ok["test_set"] == "uniform")].sort_values("budget")
    assert hier["r2"].iloc[-1] > 0.95 and hier["r2"].iloc[-1] >= hier["r2"].iloc[0]
    assert (ok["r2_lo"] <= ok["r2"] + 1e-12).all() and (ok["r2"] <= ok["r2_hi"] + 1e-12).all()
    # q-SFT with b=3 needs more than 300 queries: the error is a row, not a crash
    failed = curve[(curve["method"] == "qsft") & (curve["budget"] == 300)]
    assert failed["status"].str.contains("budget").all() and failed["r2"].isna().all()
    # each point is evaluated once across fits and test sets
    assert sum(calls) == land.n_queries
    fig = plot_budget_curve(curve, title="test")
    assert len(fig.axes) == 4


def test_hamming_points_and_errors():
    pts = hamming_points(np.random.default_rng(0), 4, 3, 2, 1000)
    assert pts.shape == (6 * 4, 4) and (np.count_nonzero(pts, axis=1) == 2).all()
    land = Landscape(lambda X: X.sum(axis=1), 3, 4)
    with pytest.raises(PlmscopeError, match="unknown method"):
        budget_curve(land, ["fft"], [10])
    with pytest.raises(PlmscopeError, match="budgets"):
        budget_curve(land, ["lasso"], [0])
