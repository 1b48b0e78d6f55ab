"""Every estimator's smallest budget: refused before any query in one line naming it, and exact (one more fits).

The minima were measured against the installed shapiq 1.4.1 / LightGBM (one query less fails inside
shapiq, the minimum fits); the epistasis CLI refuses a listed estimator that q-SFT's budget cannot
feed before the model is loaded (here: a model path that does not exist is never touched).
"""

import json

import numpy as np
import pytest

from plmscope.cli import main
from plmscope.errors import PlmscopeError
from plmscope.fourier import Landscape
from plmscope.fourier.base import Estimator
from plmscope.fourier.budget_curve import budget_curve
from plmscope.fourier.methods import METHODS

# (estimator, n, q, smallest budget)
MINIMA = [
    ("exact", 3, 2, 8),  # all q^n points
    ("qsft", 3, 20, 290),  # C = 3 groups * 20 bins * 4 delays + 50 validation points
    ("qsft_paper", 3, 2, 82),  # C = 2 * 2 bins * 2 offsets * 4 delays + 50
    ("lasso", 3, 20, 10),
    ("ridge", 2, 2, 10),
    ("hierarchical", 3, 20, 20),
    ("proxy", 3, 2, 20),
    ("residual", 3, 2, 94),  # 20 regression points + q-SFT's 74
    ("spex", 3, 2, 216),  # shapiq: 3 subsamples * (BCH delays + 1 = 9) * 2^3 bins
    ("spex", 9, 2, 264),  # 11 BCH rows at n = 9
    ("proxyspex", 6, 2, 40),  # two LightGBM leaves of 20 coalitions
]


def _landscape(n, q, seed=0):
    table = np.random.default_rng(seed).normal(size=(q,) * n)
    return Landscape(lambda X: table[tuple(np.asarray(X).T)], n, q)


@pytest.mark.parametrize("method, n, q, minimum", MINIMA)
def test_smallest_budget_is_refused_below_and_fits_at_it(method, n, q, minimum):
    assert METHODS[method]().min_budget(n, q) == minimum
    land = _landscape(n, q)
    with pytest.raises(PlmscopeError) as err:
        METHODS[method](seed=0).fit(land, minimum - 1)
    message = str(err.value)
    assert "\n" not in message and message.startswith(f"{method}: ")
    assert str(minimum - 1) in message and str(minimum) in message
    assert land.n_queries == 0  # refused before any query
    coef = METHODS[method](seed=0).fit(land, minimum)
    assert 0 < coef.queries <= minimum


def test_proxyspex_refuses_too_few_sites_and_a_flat_landscape_in_one_line():
    with pytest.raises(PlmscopeError, match=r"n = 5 sites give only 32 coalitions .* at least 40"):
        METHODS["proxyspex"]().fit(_landscape(5, 2), 10_000)
    flat = Landscape(lambda X: np.full(len(X), 1.5), 6, 2)
    with pytest.raises(PlmscopeError, match="trees found no split") as err:
        METHODS["proxyspex"](seed=0).fit(flat, 64)
    assert "\n" not in str(err.value)


def test_spex_hands_shapiq_no_more_samples_than_the_full_plan():
    est = METHODS["spex"](seed=0)
    cap = est.max_useful_budget(6)
    assert cap < 10_000  # b = n = 6: 3 * 11 * 64 samples, not the 2^25 a budget of 10^9 would plan
    coef = est.fit(_landscape(6, 2), 10**9)
    assert coef.queries <= 2**6 and est.budget_used <= cap


def test_a_fit_out_of_memory_is_one_line():
    class Greedy(Estimator):
        name = "greedy"

        def _fit(self, landscape, budget):
            raise MemoryError("Unable to allocate 2.25 TiB")

    with pytest.raises(PlmscopeError, match=r"greedy: budget 10000000 at n = 3, q = 2 needs more memory") as err:
        Greedy().fit(_landscape(3, 2), 10**7)
    assert "\n" not in str(err.value)


def test_budget_curve_records_a_too_small_budget_of_every_estimator_instead_of_stopping():
    curve = budget_curve(_landscape(6, 2), ["proxyspex", "lasso"], [20, 64], uniform=30, hamming=[1], n_boot=10)
    small = curve[(curve["budget"] == 20) & (curve["estimator"] == "proxyspex")]
    assert small["status"].str.contains("needs at least 40 queries").all() and small["r2"].isna().all()
    assert (curve[curve["budget"] == 64]["status"] == "ok").all()


def _cli(tmp_path, capsys, **cfg):
    spec = {"protein": {"id": "toy", "sequence": "MKTAYIAKQRQISF"}, "model": str(tmp_path / "no-model"),
            "cache_dir": str(tmp_path / "cache"), **cfg}  # fmt: skip
    code = main(["epistasis", "--spec", json.dumps(spec), "-o", str(tmp_path / "out")])
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    return code, lines


@pytest.mark.parametrize("baseline, needs", [
    ("spex", "spex: budget 8 is too small: it needs at least 216 queries"),
    ("proxyspex", "proxyspex: n = 3 sites give only 8 coalitions but its trees need at least 40"),
    ("lasso", "lasso: budget 8 is too small: it needs at least 10 queries"),
    ("qsft_paper", "qsft_paper: budget 8 is below the smallest configuration (b=1, C=2: 82 queries)"),
])  # fmt: skip
def test_cli_refuses_an_estimator_that_q_sfts_budget_cannot_feed_before_loading_the_model(
    tmp_path, capsys, baseline, needs
):
    code, lines = _cli(tmp_path, capsys, q=2, site_sets=["K2A Y5A Q9A"], baselines=[baseline])
    assert code == 1 and len(lines) == 1, lines
    assert lines[0].startswith("plmscope epistasis: error: config key landscape.baselines: site set set1: ")
    assert needs in lines[0] and "at most 8 queries" in lines[0]  # q-SFT covers all 2^3 variants
    assert not (tmp_path / "cache").exists() and not (tmp_path / "out").exists()


def test_cli_refuses_a_q_sft_b_above_the_sites_before_loading_the_model(tmp_path, capsys):
    code, lines = _cli(tmp_path, capsys, site_sets=[[2, 5]], qsft={"b": 3})
    assert code == 1 and lines == [
        "plmscope epistasis: error: config key landscape.qsft: site set set1: qsft: b=3 exceeds the number of sites n=2"
    ]
