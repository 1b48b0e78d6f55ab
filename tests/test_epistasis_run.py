"""The epistasis run: end to end on a tiny masked LM, the shared query cache, test sets, interaction table, config."""

import json

import numpy as np
import pandas as pd
import pytest

from plmscope.errors import PlmscopeError
from plmscope.fourier import Landscape, all_points
from plmscope.fourier.landscape_spec import build_spec
from plmscope.fourier.methods import METHODS
from plmscope.models.scoring import save_tiny_masked_lm
from plmscope.fourier.cache import PersistentCache
from plmscope.fourier.cache import row_keys as _row_keys
from plmscope.fourier.config import load_config
from plmscope.fourier.sampling import draw_points
from plmscope.fourier.tables import interaction_table
from plmscope.options import QSFT_DEFAULTS
from plmscope.options import validate_landscape as normalize_config
from plmscope.runs.epistasis import run_epistasis

SEQ = "MKTAYIAKQRQISF"


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    return save_tiny_masked_lm("bert", tmp_path_factory.mktemp("epi") / "mlm", seed=1)


def _config(model, cache_dir, published=None):
    return {
        "protein": {"id": "toy", "sequence": SEQ},
        "model": str(model),
        "score": "pll_unmasked",
        "q": 20,
        "site_sets": [[2, 5, 9], {"name": "pair", "sites": "12 14"}],
        "qsft": {"b": 1, "C": 2, "delays": "random", "R": 2, "seed": 3, "n_validation": 50},
        "test": {"uniform": 60, "hamming": [1, 2, 3], "per_distance": 30, "n_boot": 50, "seed": 7},
        "exact_max_points": 400,
        "interactions": {"max_order": 2, "top_k": 20},
        "scoring": {"device": "cpu", "chunk": 256},
        "cache_dir": str(cache_dir),
        "published": None if published is None else str(published),
    }


def test_run_writes_every_output_and_a_rerun_scores_nothing(tmp_path, tiny_model):
    published = tmp_path / "published.csv"
    pd.DataFrame([{"protein_id": "toy", "sequence": SEQ, "sites": "5 9 2", "q": 20, "model": "someone's",
                   "score": "pll", "metric": "pearson_r2", "value": 0.5, "test_set": "uniform",
                   "source": "test", "note": ""}]).to_csv(published, index=False)  # fmt: skip
    cfg = _config(tiny_model, tmp_path / "cache", published)
    out = tmp_path / "out"
    summary = run_epistasis(cfg, out, progress=False)
    assert summary["model_sequences"] > 0 and set(summary["site_sets"]) == {"set1", "pair"}
    for stem in ("metrics", "spectrum", "energy_per_order", "pair_energy", "interactions", "published_comparison"):
        assert (out / f"{stem}.parquet").is_file() and (out / f"{stem}.csv").is_file()
    for stem in ("energy_by_order", "sparsity_ruggedness", "pair_energy_set1", "pair_energy_pair",
                 "predicted_vs_true_set1"):  # fmt: skip
        assert (out / f"{stem}.png").stat().st_size > 0 and (out / f"{stem}.svg").stat().st_size > 0
    assert sorted(p.name for p in (out / "coefficients").iterdir()) == [
        "pair_exact.parquet", "pair_lasso.parquet", "pair_qsft.parquet", "set1_lasso.parquet", "set1_qsft.parquet"]
    assert not list(tmp_path.glob(".out.tmp-*"))

    metrics = pd.read_parquet(out / "metrics.parquet")
    set1 = metrics[metrics["site_set"] == "set1"]
    assert set(set1["test_set"]) == {"uniform", "hamming_1", "hamming_2", "hamming_3"}
    assert set(set1["method"]) == {"qsft", "lasso"}
    uniform = set1[set1["test_set"] == "uniform"].set_index("method")
    assert (uniform["n_points"] == 60).all()
    assert ((uniform["r2_lo"] <= uniform["r2"]) & (uniform["r2"] <= uniform["r2_hi"])).all()
    assert uniform.loc["qsft", "published_pearson_r2"] == 0.5  # the published number sits beside ours
    comparison = pd.read_parquet(out / "published_comparison.parquet")
    assert comparison[["site_set", "metric", "published"]].values.tolist() == [["set1", "pearson_r2", 0.5]]
    assert comparison["ours"].iloc[0] == pytest.approx(uniform.loc["qsft", "pearson_r2"])
    pair = metrics[metrics["site_set"] == "pair"].set_index(["method", "test_set"])
    assert pair.loc[("lasso", "all"), "n_points"] == 400  # q^n <= exact_max_points: scored on every variant
    assert pair.loc[("lasso", "all"), "r2"] > 0.5  # order <= 2 spans the whole n = 2 space
    assert (pair["n_points"] > 0).all()  # the estimators queried most of the 400 variants: no empty test sets

    meta = json.loads((out / "meta.json").read_text())
    info = meta["site_sets"]["set1"]
    assert info["sites"] == [2, 5, 9] and info["wild_type"] == "KYQ"
    assert info["qsft"]["queries"] <= 2 * 20 * 4 * 2 + 50  # C q^b (n+1) R + validation
    # held-out test points are never points an estimator queried
    assert sum(info["test_set_sizes"].values()) == 60 + 30 + 30 + 30

    spectrum = pd.read_parquet(out / "spectrum.parquet").set_index(["site_set", "method"])
    assert {"s5", "ruggedness", "variance"} <= set(spectrum.columns)
    assert 0 <= spectrum.loc[("pair", "qsft"), "support_precision"] <= 1
    assert spectrum.loc[("pair", "lasso"), "coefficient_nmse"] < 0.5  # order <= 2 is the whole n = 2 space
    energy = pd.read_parquet(out / "energy_per_order.parquet")
    exact = energy[(energy["site_set"] == "pair") & (energy["method"] == "exact") & (energy["interaction_order"] >= 1)]
    assert exact["fraction"].sum() == pytest.approx(1.0)
    inter = pd.read_parquet(out / "interactions.parquet")
    assert {"interaction_order", "sites", "mutations", "amino_acids", "coefficient", "magnitude", "rank"} <= set(inter.columns)
    assert set(inter[inter["method"] == "exact"]["interaction_order"]) == {1, 2}

    rerun = run_epistasis(cfg, tmp_path / "out2", progress=False)
    assert rerun["model_sequences"] == 0  # every (model, score, protein, sites, x) was cached
    assert json.loads((tmp_path / "out2" / "meta.json").read_text())["model_loaded"] is False
    again = pd.read_parquet(tmp_path / "out2" / "metrics.parquet")
    pd.testing.assert_frame_equal(again, metrics)


def test_q2_landscape_runs_with_exact_reference(tmp_path, tiny_model):
    cfg = _config(tiny_model, tmp_path / "cache")
    cfg.update(q=2, site_sets=["K2A Y5G Q9C R10E"], published=None, baselines=[], exact_max_points=16)
    cfg["qsft"] = {"b": 2, "C": 2, "delays": "identity", "noise_threshold": 0.0}
    cfg["test"] = {"uniform": 10, "hamming": [1], "per_distance": 4, "n_boot": 20}
    cfg["interactions"] = {"max_order": 4, "top_k": 20}
    summary = run_epistasis(cfg, tmp_path / "out", progress=False)
    assert summary["model_sequences"] <= 16 + 1
    spectrum = pd.read_parquet(tmp_path / "out" / "spectrum.parquet").set_index("method")
    assert np.isfinite(spectrum.loc["qsft", "coefficient_nmse"])
    assert spectrum.loc["exact", "n_coefficients"] <= 16
    inter = pd.read_parquet(tmp_path / "out" / "interactions.parquet")
    singles = inter[(inter["method"] == "exact") & (inter["interaction_order"] == 1)]
    assert set(singles["mutations"]) == {"K2A", "Y5G", "Q9C", "R10E"}  # q = 2: the configured substitutions
    assert set(inter[inter["method"] == "exact"]["interaction_order"]) == {1, 2, 3, 4}
    assert (inter[(inter["method"] == "exact") & (inter["interaction_order"] == 4)]["mutations"] == "K2A,Y5G,Q9C,R10E").all()
    metrics = pd.read_parquet(tmp_path / "out" / "metrics.parquet")
    assert set(metrics["test_set"]) == {"all"}  # every one of the 16 variants was queried by q-SFT


def test_interaction_table_recovers_a_planted_pair():
    spec = build_spec("p", SEQ, [2, 5], q=20)
    rng = np.random.default_rng(0)
    single = rng.normal(size=(2, 20))

    def f(X):
        return single[0, X[:, 0]] + single[1, X[:, 1]] + 2.5 * ((X[:, 0] == 3) & (X[:, 1] == 7))

    coef = METHODS["exact"]().fit(Landscape(f, 2, 20))
    table = interaction_table(coef, spec, max_order=2, top_k=5)
    pairs = table[table["interaction_order"] == 2]
    top = pairs.iloc[0]
    letters = spec.letters
    assert top["coefficient"] == pytest.approx(2.5, abs=1e-9)
    assert top["sites"] == "2,5" and top["amino_acids"] == f"{letters[0, 3]},{letters[1, 7]}"
    assert top["mutations"] == f"K2{letters[0, 3]},Y5{letters[1, 7]}"
    assert pairs["magnitude"].iloc[1] < 1e-9  # every other pair of mutations is additive
    singles = table[table["interaction_order"] == 1]
    best = np.argmax(np.abs(single[:, 1:] - single[:, :1]).ravel())
    i, v = divmod(best, 19)
    assert singles.iloc[0]["coefficient"] == pytest.approx(single[i, v + 1] - single[i, 0])
    assert list(singles["rank"]) == list(range(1, len(singles) + 1))


def test_draw_points_respects_distance_and_exclusion():
    rng = np.random.default_rng(1)
    n, q = 4, 20
    exclude = _row_keys(np.array([[0, 0, 0, 1], [0, 0, 2, 0]]), q)
    for distance in (1, 2, 4):
        X = draw_points(rng, n, q, size=50, distance=distance, exclude=exclude)
        assert X.shape == (50, 4)
        assert (np.count_nonzero(X, axis=1) == distance).all()
        assert len(np.unique(_row_keys(X, q))) == 50
        assert not np.isin(_row_keys(X, q), exclude).any()
    shell = draw_points(rng, n, q, size=1000, distance=1, exclude=exclude)  # only 4 * 19 - 2 exist
    assert shell.shape[0] == 74
    wide = draw_points(rng, 10, 20, size=1000, distance=1, exclude=exclude[:0])  # small shell of a huge space
    assert wide.shape == (190, 10) and (np.count_nonzero(wide, axis=1) == 1).all()
    assert len(np.unique(_row_keys(wide, 20))) == 190
    big = draw_points(rng, 10, 20, size=300, distance=None, exclude=np.zeros(0, dtype=np.int64))
    assert big.shape == (300, 10) and len(np.unique(_row_keys(big, 20))) == 300


def test_persistent_cache_recovers_the_journal_and_merges_writers(tmp_path):
    path = tmp_path / "c.parquet"
    first = PersistentCache(path, 2, 3)
    first.record(np.array([[0, 1], [2, 2]]), np.array([1.0, 2.0]))  # scored, then the run "crashes"
    second = PersistentCache(path, 2, 3)
    assert len(second) == 2 and path.is_file()
    assert not list((tmp_path / "c.parquet.journal").glob("part-*"))
    a, b = PersistentCache(path, 2, 3), PersistentCache(path, 2, 3)
    a.cache.extend(np.array([[1, 1]]), np.array([3.0]))
    b.cache.extend(np.array([[1, 2]]), np.array([4.0]))
    a.flush()
    b.flush()  # b did not know a's point: it is merged, not overwritten
    final = PersistentCache(path, 2, 3)
    got = dict(zip(map(tuple, final.cache.X.tolist()), final.cache.y))
    assert got == {(0, 1): 1.0, (2, 2): 2.0, (1, 1): 3.0, (1, 2): 4.0}
    with pytest.raises(PlmscopeError, match="written for n=2, q=3"):
        PersistentCache(path, 3, 3)


def test_config_errors_name_the_key(tmp_path):
    base = {"protein": {"sequence": SEQ}, "site_sets": [[2]]}
    with pytest.raises(PlmscopeError, match="'budget' was unexpected"):
        normalize_config({**base, "budget": 3})
    with pytest.raises(PlmscopeError, match="landscape.qsft: .*'bb' was unexpected"):
        normalize_config({**base, "qsft": {"bb": 2}})
    with pytest.raises(PlmscopeError, match="landscape.score: 'pll' is not one of"):
        normalize_config({**base, "score": "pll"})
    with pytest.raises(PlmscopeError, match="'site_sets' is a required property"):
        normalize_config({"protein": {"sequence": SEQ}})
    with pytest.raises(PlmscopeError, match="landscape.test.n_boot: 0 is less than the minimum"):
        normalize_config({**base, "test": {"n_boot": 0}})
    assert normalize_config(base)["qsft"]["C"] == QSFT_DEFAULTS["C"]  # defaults filled in


def test_load_config_from_workflow_yaml_and_json(tmp_path):
    workflow = tmp_path / "config.yaml"
    workflow.write_text(
        "epistasis:\n"
        "  cache_dir: elsewhere/cache\n"
        "  landscapes:\n"
        "    a: {protein: {sequence: MKTAYI}, site_sets: [[2, 5]]}\n"
        "  paper:\n"
        "    landscapes:\n"
        "      gb1: {protein: {fasta: resources/epistasis/gb1.fasta}, site_sets: ['12 15 6']}\n"
    )
    name, cfg = load_config(workflow, landscape="gb1")
    assert name == "gb1" and cfg["site_sets"] == ["12 15 6"]
    assert cfg["cache_dir"] == "elsewhere/cache"  # the workflow block's cache directory
    with pytest.raises(PlmscopeError, match="holds 2 landscapes"):
        load_config(workflow)
    with pytest.raises(PlmscopeError, match="no landscape named 'zz'"):
        load_config(workflow, landscape="zz")
    name, cfg = load_config(json.dumps({"protein": {"sequence": "MK"}, "site_sets": [[1]]}), landscape="j")
    assert name == "j" and cfg["model"] == "antiberty"
    with pytest.raises(PlmscopeError, match="not valid JSON"):
        load_config("{oops")
    with pytest.raises(PlmscopeError, match="file not found"):
        load_config(tmp_path / "missing.yaml")


def test_every_point_of_a_small_space_is_one_key():
    X = all_points(3, 20)
    assert len(np.unique(_row_keys(X, 20))) == 8000


def test_new_estimators_and_budget_curve_in_the_run(tmp_path, tiny_model):
    cfg = _config(tiny_model, tmp_path / "cache")
    cfg.update(site_sets=[{"name": "trio", "sites": "2 5 9"}], baselines=["lasso", "hierarchical", "proxy", "residual"],
               budgets=[200, 400], exact_max_points=0)  # fmt: skip
    cfg["qsft"] = {"b": 1, "C": 2, "seed": 3, "n_validation": 20}
    cfg["estimator_options"] = {"hierarchical": {"max_order": 2}, "proxy": {"max_iter": 50}, "residual": {"C": 1, "R": 1}}
    cfg["test"] = {"uniform": 40, "hamming": [1, 2], "per_distance": 20, "n_boot": 20, "seed": 7}
    out = tmp_path / "out"
    run_epistasis(cfg, out, progress=False)
    methods = {"qsft", "lasso", "hierarchical", "proxy", "residual"}
    metrics = pd.read_parquet(out / "metrics.parquet")
    assert set(metrics["method"]) == methods
    assert metrics.groupby("method")["test_set"].apply(set).map(len).eq(3).all()  # uniform, hamming_1, hamming_2
    assert set(pd.read_parquet(out / "interactions.parquet")["method"]) == methods
    assert set(pd.read_parquet(out / "spectrum.parquet")["method"]) == methods
    assert {p.stem for p in (out / "coefficients").iterdir()} == {f"trio_{m}" for m in methods}
    meta = json.loads((out / "meta.json").read_text())["site_sets"]["trio"]
    qsft_budget = meta["qsft"]["queries"]
    for method in methods - {"qsft"}:
        assert meta[method]["new_queries"] <= meta[method]["queries"] <= qsft_budget  # the same budget as q-SFT
    assert meta["qsft"]["validation_queries"] == 20  # the queries q-SFT actually drew

    curve = pd.read_parquet(out / "budget_curve.parquet")
    assert (out / "budget_curve.csv").is_file() and (out / "budget_curve_trio.png").stat().st_size > 0
    assert {"site_set", "estimator", "budget", "test_set", "r2", "r2_lo", "r2_hi"} <= set(curve.columns)
    grid = curve.groupby(["estimator", "budget"])["test_set"].apply(set)
    assert set(grid.index) == {(m, b) for m in methods for b in (200, 400)}
    assert (grid.map(len) == 3).all()  # the run's held-out sets
    ok = curve[curve["status"] == "ok"]
    assert (ok["queries"] <= ok["budget"]).all()  # budgets respected
    assert set(ok["estimator"]) == methods
    scored = ok.dropna(subset=["r2"])
    assert ((scored["r2_lo"] <= scored["r2"]) & (scored["r2"] <= scored["r2_hi"])).all()

    rerun = run_epistasis(cfg, tmp_path / "out2", progress=False)
    assert rerun["model_sequences"] == 0  # every fit of the curve went through the query cache


def test_q2_run_lists_shapiq_peers_and_qsft_paper_on_the_budget_curve(tmp_path, tiny_model):
    cfg = _config(tiny_model, tmp_path / "cache")
    cfg.update(q=2, site_sets=[{"name": "ala", "sites": "M1A K2A T3A Y5A I6A K8A Q9A R10A S13A"}], published=None,
               baselines=["spex", "proxyspex", "qsft_paper", "lasso"], budgets=[150, 400], exact_max_points=512)  # fmt: skip
    cfg["qsft"] = {"b": 5, "C": 2, "delays": "identity", "n_validation": 20, "seed": 3}
    cfg["test"] = {"uniform": 20, "hamming": [1], "per_distance": 8, "n_boot": 20, "seed": 7}
    out = tmp_path / "out"
    run_epistasis(cfg, out, progress=False)
    methods = {"qsft", "spex", "proxyspex", "qsft_paper", "lasso"}
    assert set(pd.read_parquet(out / "metrics.parquet")["method"]) == methods
    spectrum = pd.read_parquet(out / "spectrum.parquet").set_index("method")
    assert np.isfinite(spectrum.loc[sorted(methods), "coefficient_nmse"]).all()  # against the exact transform
    curve = pd.read_parquet(out / "budget_curve.parquet")
    assert set(curve["estimator"]) == methods and set(curve["budget"]) == {150, 400}
    ok = curve[curve["status"] == "ok"]
    assert (ok["queries"] <= ok["budget"]).all()
    assert {"spex", "proxyspex"} <= set(ok[ok["budget"] == 400]["estimator"])


def test_shapiq_peers_need_q2_in_the_config(tmp_path, tiny_model):
    cfg = _config(tiny_model, tmp_path / "cache")
    cfg["baselines"] = ["lasso", "spex"]
    with pytest.raises(PlmscopeError, match=r"baselines: spex \(shapiq\) needs q = 2, got q = 20"):
        normalize_config(cfg, name="toy")


def test_a_site_set_queried_whole_without_exact_writes_empty_metrics_instead_of_failing(tmp_path, tiny_model, caplog):
    cfg = _config(tiny_model, tmp_path / "cache")
    cfg.update(site_sets=[[2, 5]], baselines=["lasso", "hierarchical"], budgets=[20], exact_max_points=0)
    cfg["qsft"] = {"b": 2, "C": 1, "noise_threshold": 0.0}  # q-SFT alone asks for all 400 variants
    run_epistasis(cfg, tmp_path / "out", progress=False)
    metrics = pd.read_parquet(tmp_path / "out" / "metrics.parquet")
    assert metrics.empty and list(metrics.columns)[:3] == ["site_set", "sites", "n"]
    assert pd.read_parquet(tmp_path / "out" / "budget_curve.parquet").empty
    assert "no variant is held out" in caplog.text and "exact_max_points >= 400" in caplog.text
    spectrum = pd.read_parquet(tmp_path / "out" / "spectrum.parquet")
    assert spectrum["interaction_share"].between(0, 1).all() and (spectrum["ruggedness"] >= 1).all()


def test_config_errors_name_what_is_wrong_inside_a_site_set():
    base = {"protein": {"sequence": SEQ}}
    with pytest.raises(PlmscopeError, match=r"^config key landscape\.site_sets\.0\.0: 2\.5 is not of type 'integer'"):
        normalize_config({**base, "site_sets": [[2.5, 5]]})
    with pytest.raises(PlmscopeError, match=r"^config key landscape\.site_sets\.0: \[\] should be non-empty$"):
        normalize_config({**base, "site_sets": [[]]})
    with pytest.raises(PlmscopeError, match=r"site_sets\.0: Additional properties are not allowed \('subs' was"):
        normalize_config({**base, "site_sets": [{"sites": [2], "subs": "A"}]})
    with pytest.raises(PlmscopeError, match=r"^config key landscape\.qsft\.noise_threshold: -1 is less than the minimum"):
        normalize_config({**base, "site_sets": [[2]], "qsft": {"noise_threshold": -1}})
