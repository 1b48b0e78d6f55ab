"""Every output table's columns (type, meaning, index base), checked when written and rendered as ``results/README.md``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Mapping

import pandas as pd

from plmscope.errors import PlmscopeError

Kind = Literal["string", "integer", "float", "boolean", "list"]

SQL_RESERVED: frozenset[str] = frozenset({
    "all", "analyse", "analyze", "and", "any", "array", "as", "asc", "asymmetric", "both", "case", "cast", "check",
    "collate", "column", "constraint", "create", "default", "deferrable", "desc", "describe", "distinct", "do",
    "else", "end", "except", "false", "fetch", "for", "foreign", "from", "grant", "group", "having", "in",
    "initially", "intersect", "into", "lateral", "leading", "limit", "not", "null", "offset", "on", "only", "or",
    "order", "pivot", "placing", "primary", "qualify", "references", "returning", "select", "show", "some",
    "summarize", "symmetric", "table", "then", "to", "trailing", "true", "union", "unique", "unpivot", "using",
    "variadic", "when", "where", "window", "with",
    "range", "value", "values",
})  # fmt: skip
"""Column names refused in written tables: DuckDB's reserved keywords (``duckdb_keywords()``) plus
``range``, ``value`` and ``values`` (reserved in standard SQL), so every column can be queried unquoted."""

LAYER_HEAD = "1-based (layer 1 is the first transformer layer, as in figure labels)"
"""Index base of the ``layer`` and ``head`` columns of every table a person reads."""


@dataclass(frozen=True)
class Column:
    """One column of an output table.

    Attributes:
        name: column name.
        kind: value type (``string``, ``integer``, ``float``, ``boolean``, ``list``).
        meaning: one sentence for the reader.
        base: index base of a position column (``"1-based"``, ``"0-based"``), None for other columns.
        nullable: the column may hold missing values (NA/NaN) besides NaN floats.
        optional: the column is written only in some runs.
        one_based: the code holds the column 0-based; it is written (and read back) 1-based.
    """

    name: str
    kind: Kind
    meaning: str
    base: str | None = None
    nullable: bool = False
    optional: bool = False
    one_based: bool = False


@dataclass(frozen=True)
class TableSchema:
    """One output table: the verb writing it, its files, what one row is, its columns."""

    name: str
    verb: str
    row: str
    columns: tuple[Column, ...]
    files: str = "{name}.parquet, {name}.csv"
    validated: bool = True

    @property
    def names(self) -> tuple[str, ...]:
        """Column names, in written order."""
        return tuple(c.name for c in self.columns)


def _layer(one_based: bool = True) -> Column:
    return Column("layer", "integer", "transformer layer of the head", base=LAYER_HEAD, one_based=one_based)


def _head(one_based: bool = True) -> Column:
    return Column("head", "integer", "attention head within its layer", base=LAYER_HEAD, one_based=one_based)


_LABEL = Column("label", "string", "the head as `layer-head`, 1-based (e.g. `12-4`), as in figures", base="1-based")
_FEATURE = Column("feature", "string", "feature the head is tested against (`contact`, `binding_site`, `ss_*`, `aa_*`, ...)")
_ENRICHMENT_COLUMNS = (
    _FEATURE, _layer(), _head(), _LABEL,
    Column("n_attention", "integer", "thresholded attention weights of the head (query-key pairs above theta)"),
    Column("n_feature", "integer", "of those, pairs where the feature holds"),
    Column("proportion", "float", "n_feature / n_attention: share of the head's attention on the feature"),
    Column("ci_low", "float", "lower end of the 95% confidence interval of proportion"),
    Column("ci_high", "float", "upper end of the 95% confidence interval of proportion"),
    Column("background", "float", "share of all eligible pairs where the feature holds"),
    Column("enrichment", "float", "proportion / background"),
    Column("z", "float", "z statistic of proportion against background"),
    Column("p_value", "float", "one-sided p-value of proportion > background"),
    Column("p_adjusted", "float", "Bonferroni-adjusted p_value over n_tests"),
    Column("masked", "boolean", "head has fewer than --min-count thresholded weights (not ranked)"),
    Column("rank", "integer", "rank of the head for the feature by proportion (1 = best); NA when masked",
           base="1-based", nullable=True),
    Column("n_tests", "integer", "heads tested for the feature (Bonferroni family size)"),
    # provis semantics only (analysis/provis_enrichment.py PROVIS_TABLE_COLUMNS)
    Column("weight_total", "float", "provis semantics: sum of the head's attention weights > theta on eligible pairs "
           "(n_attention holds int(weight_total))", optional=True),
    Column("weight_feature", "float", "provis semantics: of that sum, the weights on pairs where the feature holds",
           optional=True),
    Column("n_rows", "integer", "provis semantics: number of the head's weights > theta on eligible pairs", optional=True),
)  # fmt: skip

_SITE_SET = Column("site_set", "string", "name of the site set (a set of mutated positions)")
_METHOD = Column("method", "string", "estimator (`exact`, `qsft`, `lasso`, ...)")

_TABLES: tuple[TableSchema, ...] = (
    # ---- enrichment ----
    TableSchema("enrichment", "enrichment", "one head and feature", _ENRICHMENT_COLUMNS),
    TableSchema("backgrounds", "enrichment", "one feature", (
        _FEATURE,
        Column("n_eligible", "integer", "residue pairs (or residues) where the feature can be scored"),
        Column("n_feature", "integer", "of those, where the feature holds"),
        Column("background", "float", "n_feature / n_eligible"),
        Column("n_residues_max", "integer", "provis semantics: residues read per chain for this background "
               "(provis' max_seq_len)", optional=True),
    )),
    TableSchema("top_heads", "enrichment", "one of the top-k heads of a feature (same columns as `enrichment`)",
                _ENRICHMENT_COLUMNS),
    # ---- contacts ----
    TableSchema("regression", "contacts", "one head: its weight in the attention-contact regression (no pickle)", (
        _layer(), _head(),
        Column("feature_mean", "float", "mean of the head's APC-corrected symmetrised attention over training pairs"),
        Column("feature_scale", "float", "its standard deviation (1 when features were not standardised)"),
        Column("coefficient", "float", "L1 logistic-regression coefficient of the standardised feature"),
        Column("intercept", "float", "the regression's intercept (the same on every row)"),
    )),
    TableSchema("contact_probs", "contact-maps", "one residue pair of one protein: predicted contact probability", (
        Column("protein_id", "string", "protein id of the table"),
        Column("i_1based", "integer", "first residue of the pair", base="1-based"),
        Column("j_1based", "integer", "second residue of the pair (j > i)", base="1-based"),
        Column("probability", "float", "contact probability from the saved regression"),
    )),
    TableSchema("contact_prediction", "contacts", "one method, separation range and k (precision at L/k)", (
        Column("method", "string", "`regression` (all heads), `best_head`, `random` baseline"),
        Column("separation_range", "string", "|i - j| range: `short` 6-11, `medium` 12-23, `long` >= 24, `all` >= 6"),
        Column("k", "string", "top predictions kept: `L`, `L/2`, `L/5` (L = protein length)"),
        Column("precision", "float", "mean over test proteins of the precision of the top predictions"),
        Column("precision_sd", "float", "standard deviation over test proteins"),
        Column("n_proteins", "integer", "test proteins"),
        Column("contact_definition", "string", "how a contact was defined (atoms, cutoff)"),
    )),
    TableSchema("per_protein", "contacts", "one test protein, method, separation range and k", (
        Column("protein_id", "string", "protein"),
        Column("length", "integer", "residues analysed (L)"),
        Column("method", "string", "as in `contact_prediction`"),
        Column("separation_range", "string", "as in `contact_prediction`"),
        Column("k", "string", "as in `contact_prediction`"),
        Column("n_top", "integer", "predictions scored"),
        Column("n_correct", "float", "of those, true contacts"),
        Column("precision", "float", "n_correct / n_top"),
        Column("n_candidates", "integer", "residue pairs in the range"),
        Column("n_contacts", "integer", "true contacts among the candidates"),
        Column("base_rate", "float", "n_contacts / n_candidates (precision of a random guess)"),
    )),
    TableSchema("head_selection", "contacts", "one head", (
        _layer(), _head(), _LABEL,
        Column("train_precision_L_all", "float", "precision at L of the head's APC map alone on the training proteins"),
        Column("coefficient", "float", "weight of the head in the L1 logistic regression"),
        Column("best", "boolean", "the head chosen as `best_head`"),
    )),
    # ---- robustness ----
    TableSchema("null_models", "robustness", "one top head of a feature under the real model and both nulls", (
        _FEATURE, Column("rank", "integer", "rank of the head for the feature in the real model", base="1-based"),
        _layer(), _head(), _LABEL,
        Column("background", "float", "share of eligible pairs where the feature holds"),
        *(c for cond in ("real", "random_weights", "shuffled") for c in (
            Column(f"n_attention_{cond}", "integer", f"thresholded weights of the head ({cond})"),
            Column(f"proportion_{cond}", "float", f"share of those on the feature ({cond})"),
            Column(f"ci_low_{cond}", "float", f"lower end of the protein-bootstrap 95% CI ({cond})"),
            Column(f"ci_high_{cond}", "float", f"upper end of the protein-bootstrap 95% CI ({cond})"),
            Column(f"masked_{cond}", "boolean", f"too few thresholded weights ({cond})"),
        )),
    )),
    TableSchema("threshold_sweep", "robustness", "one condition, threshold and top head of a feature", (
        Column("condition", "string", "`real`, `random_weights` or `shuffled`"),
        Column("threshold", "float", "attention threshold theta"),
        _FEATURE, Column("rank", "integer", "rank of the head for the feature in the real model", base="1-based"),
        _layer(), _head(), _LABEL,
        Column("background", "float", "share of eligible pairs where the feature holds"),
        Column("n_attention", "integer", "thresholded weights of the head"),
        Column("n_feature", "integer", "of those, on the feature"),
        Column("proportion", "float", "n_feature / n_attention"),
        Column("masked", "boolean", "too few thresholded weights"),
    )),
    TableSchema("best_heads", "robustness", "one condition, threshold and feature: that condition's own best head", (
        Column("condition", "string", "`real`, `random_weights` or `shuffled`"),
        Column("threshold", "float", "attention threshold theta"),
        _FEATURE,
        Column("label", "string", "the head as `layer-head`, 1-based (NA when no head qualifies)", base="1-based",
               nullable=True),
        Column("layer", "integer", "transformer layer of the head (NA when no head qualifies)", base=LAYER_HEAD,
               nullable=True, one_based=True),
        Column("head", "integer", "attention head (NA when no head qualifies)", base=LAYER_HEAD, nullable=True,
               one_based=True),
        Column("n_attention", "integer", "thresholded weights of the head", nullable=True),
        Column("proportion", "float", "share of those on the feature"),
        Column("ci_low", "float", "lower end of the 95% CI"),
        Column("ci_high", "float", "upper end of the 95% CI"),
        Column("background", "float", "share of eligible pairs where the feature holds"),
        Column("n_tests", "integer", "heads compared"),
    )),
    TableSchema("bootstrap", "robustness", "one condition and top head of a feature: protein-bootstrap CI", (
        Column("condition", "string", "`real`, `random_weights` or `shuffled`"),
        _FEATURE, _layer(), _head(), _LABEL,
        Column("n_attention", "integer", "thresholded weights of the head"),
        Column("n_feature", "integer", "of those, on the feature"),
        Column("proportion", "float", "n_feature / n_attention"),
        Column("ci_low", "float", "2.5% bootstrap quantile over proteins"),
        Column("ci_high", "float", "97.5% bootstrap quantile over proteins"),
        Column("se", "float", "bootstrap standard error"),
        Column("n_proteins", "integer", "proteins resampled"),
        Column("n_boot", "integer", "bootstrap replicates"),
    )),
    # ---- paper analyses ----
    TableSchema("layer_profiles", "paper", "one feature and layer", (
        _FEATURE, _layer(),
        Column("layer_number", "integer", "the same layer, 1-based (kept for older readers)", base="1-based"),
        Column("mean_proportion", "float", "mean proportion of the layer's unmasked heads"),
        Column("pooled_proportion", "float", "proportion pooled over the layer's heads"),
        Column("max_proportion", "float", "highest proportion of a head in the layer"),
        Column("max_head", "string", "that head as `layer-head` (1-based)", base="1-based"),
        Column("n_heads", "integer", "unmasked heads in the layer"),
    )),
    TableSchema("gravity", "paper", "one feature: where across layers its attention sits", (
        _FEATURE,
        Column("center_of_gravity", "float", "mean-proportion-weighted mean layer (Vig et al.); plmscope semantics: "
               "1-based layer number; provis semantics: provis's 0-based layer index", base="1-based (plmscope) / 0-based (provis)"),
        Column("center_of_gravity_layer_number", "float", "provis semantics: the same as a 1-based layer number",
               base="1-based", optional=True),
        Column("center_of_gravity_pooled", "float", "the same from pooled proportions", base="1-based", optional=True),
        Column("peak_layer_number", "integer", "layer of the highest mean proportion (-1 when none)", base="1-based",
               optional=True),
        Column("n_layers", "integer", "layers of the model (provis: layers with an unmasked head)"),
        Column("semantics", "string", "`plmscope` or `provis`: which definition the row follows", optional=True),
    )),
    # ---- probing ----
    TableSchema("probing", "probe", "one probe, task, layer and metric on the validation proteins", (
        Column("semantics", "string", "`plmscope` (logistic regression on a seeded split) or `provis` (the authors' probes)"),
        Column("probe", "string", "`embedding` or `attention` (provis: `token`, `contact_embedding`, `contact_attention`)"),
        Column("task", "string", "probe task (`helix`, `strand`, `binding_site`, `contact`, ...)"),
        Column("layer", "integer", "0 = embedding output, l >= 1 = output (or attention) of transformer layer l",
               base="1-based for transformer layers; 0 is the embedding layer (plmscope semantics only)"),
        Column("metric", "string", "`f1` or `precision_at_k`"),
        Column("score", "float", "the metric's value"),
        Column("chance", "float", "the metric's expectation without information", optional=True),
        Column("n_train", "integer", "training examples", optional=True),
        Column("n_train_positive", "integer", "positive training examples", optional=True),
        Column("n_valid", "integer", "validation examples", optional=True),
        Column("n_valid_positive", "integer", "positive validation examples", optional=True),
        Column("accuracy", "float", "provis: accuracy at the best validation epoch", optional=True, nullable=True),
        Column("precision", "float", "provis: precision at the best validation epoch", optional=True, nullable=True),
        Column("recall", "float", "provis: recall at the best validation epoch", optional=True, nullable=True),
        Column("f1", "float", "provis: F1 at the best validation epoch", optional=True, nullable=True),
        Column("valid_loss", "float", "provis: lowest validation loss (early stopping)", optional=True, nullable=True),
        Column("best_epoch", "integer", "provis: epoch of the lowest validation loss", optional=True),
        Column("epochs_run", "integer", "provis: epochs trained before stopping", optional=True),
        Column("n_train_proteins", "integer", "provis: training proteins", optional=True),
        Column("n_valid_proteins", "integer", "validation proteins"),
        Column("converged", "boolean", "plmscope: the logistic regression converged", optional=True),
    )),
    TableSchema("probing_gravity", "probe", "provis semantics: one probe and task, its center of gravity over layers", (
        Column("semantics", "string", "`provis`"),
        Column("probe", "string", "probe kind"),
        Column("task", "string", "probe task"),
        Column("metric", "string", "`f1` or `precision_at_k`"),
        Column("num_layers", "integer", "transformer layers probed"),
        Column("center_of_gravity_0based", "float", "score-weighted mean layer, provis's 0-based index (layer 1 -> 0)",
               base="0-based"),
    )),
    # ---- epistasis ----
    TableSchema("metrics", "epistasis", "one site set, estimator and test set: prediction quality", (
        _SITE_SET,
        Column("sites", "string", "mutated positions, space-separated", base="1-based"),
        Column("n", "integer", "sites in the set"),
        Column("q", "integer", "alphabet size per site"),
        _METHOD,
        Column("test_set", "string", "how test points were drawn"),
        Column("budget", "integer", "landscape queries allowed to the estimator"),
        Column("n_points", "integer", "test points"),
        Column("r2", "float", "coefficient of determination on the test points"),
        Column("r2_lo", "float", "lower end of its bootstrap 95% CI"),
        Column("r2_hi", "float", "upper end of its bootstrap 95% CI"),
        Column("nmse", "float", "normalised mean squared error"),
        Column("nmse_lo", "float", "lower end of its 95% CI"),
        Column("nmse_hi", "float", "upper end of its 95% CI"),
        Column("pearson_r2", "float", "squared Pearson correlation"),
        Column("pearson_r2_lo", "float", "lower end of its 95% CI"),
        Column("pearson_r2_hi", "float", "upper end of its 95% CI"),
        Column("published_pearson_r2", "float", "the published value for this site set", nullable=True, optional=True),
        Column("published_model", "string", "the model of the published value", nullable=True, optional=True),
    )),
    TableSchema("budget_curve", "epistasis", "one site set, estimator, query budget and test set (config budgets)", (
        _SITE_SET,
        Column("method", "string", "estimator label (a key of fourier.METHODS)"),
        Column("estimator", "string", "the fourier.METHODS estimator fitted"),
        Column("budget", "integer", "distinct landscape queries allowed to the fit"),
        Column("queries", "integer", "distinct landscape queries the fit used"),
        Column("n_coefficients", "float", "non-zero Fourier coefficients (NaN when the fit failed)"),
        Column("seconds", "float", "wall time of the fit (NaN when it failed)"),
        Column("test_set", "string", "held-out set: uniform, hamming_d (d sites from the wild type)"),
        Column("n_points", "float", "test points not queried by the fit (NaN when it failed)"),
        Column("r2", "float", "coefficient of determination on those points"),
        Column("r2_lo", "float", "lower end of its bootstrap CI"),
        Column("r2_hi", "float", "upper end of its bootstrap CI"),
        Column("status", "string", "ok, or the one-line error that stopped the fit (e.g. a budget too small)"),
    )),
    TableSchema("spectrum", "epistasis", "one site set and estimator: the recovered Fourier spectrum", (
        _SITE_SET, _METHOD,
        Column("n_coefficients", "integer", "non-zero Fourier coefficients"),
        Column("queries", "integer", "landscape queries used"),
        Column("variance", "float", "variance explained by the non-constant coefficients"),
        Column("s5", "float", "sparsity S5: share of the frequencies of order 1..5 whose |F[k]| exceeds sd / 5"),
        Column("ruggedness", "float", "ruggedness E[k]: energy-weighted mean interaction order, in [1, n] "
                                      "(1 additive, 2 purely pairwise; 0 for a constant landscape)"),
        Column("interaction_share", "float", "share of variance in interactions of order >= 2, in [0, 1] "
                                             "(0 additive, 1 purely epistatic)"),
        Column("support_precision", "float", "share of recovered coefficients in the exact support (NaN without exact)"),
        Column("support_recall", "float", "share of the exact support recovered (NaN without exact)"),
        Column("coefficient_nmse", "float", "error of the coefficients against exact (NaN without exact)"),
    )),
    TableSchema("energy_per_order", "epistasis", "one site set, estimator and interaction order", (
        _SITE_SET, _METHOD,
        Column("interaction_order", "integer", "number of sites interacting (0 = mean)"),
        Column("energy", "float", "sum of squared coefficients of that order"),
        Column("fraction", "float", "energy / energy of orders >= 1 (NaN for order 0)"),
    )),
    TableSchema("pair_energy", "epistasis", "one site set, estimator and pair of sites", (
        _SITE_SET, _METHOD,
        Column("energy", "float", "energy of the pair's second-order coefficients"),
        Column("fraction", "float", "energy / energy of orders >= 1 (share of the variance)"),
        Column("site_i", "integer", "first site", base="1-based"),
        Column("site_j", "integer", "second site", base="1-based"),
        Column("label_i", "string", "first site as wild type + position (e.g. `K2`)", base="1-based"),
        Column("label_j", "string", "second site as wild type + position", base="1-based"),
    )),
    TableSchema("interactions", "epistasis", "one recovered coefficient (the largest per site set and estimator)", (
        _SITE_SET, _METHOD,
        Column("interaction_order", "integer", "number of sites interacting"),
        Column("sites", "string", "interacting sites, comma-separated", base="1-based"),
        Column("site_labels", "string", "the sites as wild type + position", base="1-based"),
        Column("mutations", "string", "the mutations, e.g. `K2A,Y5G`", base="1-based"),
        Column("amino_acids", "string", "mutant amino acids"),
        Column("coefficient", "float", "Fourier coefficient"),
        Column("magnitude", "float", "|coefficient|"),
        Column("rank", "integer", "rank by magnitude (1 = largest)", base="1-based"),
    )),
    TableSchema("published_comparison", "epistasis", "one site set, metric and test set: ours beside the published", (
        _SITE_SET,
        Column("sites", "string", "mutated positions, space-separated", base="1-based"),
        Column("metric", "string", "metric compared"),
        Column("test_set", "string", "how test points were drawn"),
        Column("ours", "float", "our value"),
        Column("ours_lo", "float", "lower end of its 95% CI"),
        Column("ours_hi", "float", "upper end of its 95% CI"),
        Column("ours_model", "string", "our model"),
        Column("ours_score", "string", "our variant score"),
        Column("published", "float", "published value"),
        Column("published_model", "string", "published model"),
        Column("published_score", "string", "published variant score"),
        Column("source", "string", "citation of the published value"),
        Column("note", "string", "remark on the comparison", nullable=True),
    )),
    # ---- summary (the report's front page) ----
    TableSchema("headline_heads", "summary", "one model, dataset and feature: its top head (rank 1)", (
        Column("section", "string", "front-page section: `contact`, `binding_site` (PTMs too), `secondary_structure`, "
               "`amino_acids`"),
        Column("model", "string", "model name"),
        Column("dataset", "string", "dataset name"),
        _FEATURE, _LABEL,
        Column("percent", "float", "% of the head's thresholded attention on the feature"),
        Column("ci_low_percent", "float", "lower end of its 95% confidence interval (Bonferroni), %"),
        Column("ci_high_percent", "float", "upper end of its 95% confidence interval (Bonferroni), %"),
        Column("background_percent", "float", "% of eligible pairs or residues carrying the feature"),
        Column("enrichment", "float", "percent / background_percent"),
        Column("p_adjusted", "float", "Bonferroni-adjusted p-value of the z-test against the background"),
        Column("n_attention", "integer", "thresholded attention weights of the head"),
    )),
    TableSchema("headline_contacts", "summary", "one model, dataset, method and separation range: precision at L/5", (
        Column("model", "string", "model name"),
        Column("dataset", "string", "dataset name"),
        Column("method", "string", "`regression` (all heads), `best_head`, `random` baseline"),
        Column("separation_range", "string", "|i - j| range: `short` 6-11, `medium` 12-23, `long` >= 24, `all` >= 6"),
        Column("k", "string", "top predictions kept (`L/5`)"),
        Column("precision", "float", "mean over test proteins of the precision of the top predictions"),
        Column("precision_sd", "float", "standard deviation over test proteins"),
        Column("n_proteins", "integer", "test proteins"),
    )),
    TableSchema("headline_epistasis", "summary", "one landscape, site set and estimator: R^2 on held-out uniform variants", (
        Column("landscape", "string", "landscape name"),
        _SITE_SET,
        Column("n", "integer", "sites in the set"),
        _METHOD,
        Column("test_set", "string", "held-out variants (`uniform`)"),
        Column("budget", "integer", "landscape queries allowed to the estimator"),
        Column("r2", "float", "coefficient of determination on the test points"),
        Column("r2_lo", "float", "lower end of its bootstrap 95% CI"),
        Column("r2_hi", "float", "upper end of its bootstrap 95% CI"),
    )),
)

ALL_TABLES: dict[str, TableSchema] = {t.name: t for t in _TABLES}
"""Every table written through :func:`plmscope.outputs.write_tables`, by name."""

_KINDS: dict[str, frozenset[str]] = {
    "string": frozenset({"string", "empty"}),
    "integer": frozenset({"integer", "empty"}),
    "float": frozenset({"floating", "integer", "mixed-integer-float", "empty"}),
    "boolean": frozenset({"boolean", "empty"}),
    "list": frozenset({"mixed", "empty"}),
}


def schema(name: str) -> TableSchema:
    """The registered schema of table ``name``.

    Raises:
        PlmscopeError: no table of that name is registered.
    """
    try:
        return ALL_TABLES[name]
    except KeyError:
        raise PlmscopeError(f"output table {name!r} has no schema: register its columns in plmscope/schemas.py") from None


def validate(name: str, frame: pd.DataFrame) -> None:
    """Check ``frame`` against the schema of ``name``: the same columns in the same order, each of its kind.

    Raises:
        PlmscopeError: an unregistered table, a missing/extra/reordered column or a value of the wrong kind.
    """
    spec = schema(name)
    expected = [c.name for c in spec.columns if not c.optional or c.name in frame.columns]
    if list(frame.columns) != expected:
        extra = [c for c in frame.columns if c not in spec.names]
        missing = [c for c in expected if c not in frame.columns]
        raise PlmscopeError(f"table {name!r} does not match its schema (plmscope/schemas.py): extra columns {extra}, "
                            f"missing {missing}, order {list(frame.columns)}")  # fmt: skip
    for column in spec.columns:
        if column.name not in frame.columns:
            continue
        series = frame[column.name]
        if not column.nullable and column.kind != "float" and series.isna().any():
            raise PlmscopeError(f"table {name!r}: column {column.name!r} has missing values but is not nullable")
        if column.nullable and series.isna().all():
            continue
        inferred = pd.api.types.infer_dtype(series, skipna=True)
        if inferred not in _KINDS[column.kind]:
            raise PlmscopeError(f"table {name!r}: column {column.name!r} holds {inferred} values, schema says {column.kind}")


def to_disk(name: str, frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` validated and with its 0-based ``layer``/``head`` columns turned 1-based (a copy when changed)."""
    validate(name, frame)
    shift = [c.name for c in schema(name).columns if c.one_based and c.name in frame.columns]
    if not shift:
        return frame
    frame = frame.copy()
    for column in shift:
        frame[column] = frame[column] + 1
    return frame


def from_disk(name: str, frame: pd.DataFrame) -> pd.DataFrame:
    """A table read back from disk with its 1-based ``layer``/``head`` columns turned 0-based, as the code holds them."""
    shift = [c.name for c in schema(name).columns if c.one_based and c.name in frame.columns]
    if not shift:
        return frame
    frame = frame.copy()
    for column in shift:
        frame[column] = frame[column] - 1
    return frame


# ---- files written without write_tables: documented here, checked by tests against the writers' schemas ----
OTHER_FILES: Mapping[str, tuple[str, str, tuple[Column, ...]]] = {
    "attention/part-*.parquet": ("attention", "one thresholded attention weight (machine-facing, compact)", (
        Column("protein_id", "string", "protein"),
        Column("layer", "integer", "transformer layer", base="0-based (machine-facing; add 1 for figure labels)"),
        Column("head", "integer", "attention head", base="0-based (machine-facing; add 1 for figure labels)"),
        Column("i", "integer", "query residue position", base="0-based"),
        Column("j", "integer", "key residue position", base="0-based"),
        Column("weight", "float", "attention weight (>= theta)"),
    )),
    "counts.parquet": ("attention", "one head: its number of thresholded weights", (
        Column("layer", "integer", "transformer layer", base="0-based (machine-facing)"),
        Column("head", "integer", "attention head", base="0-based (machine-facing)"),
        Column("n_thresholded", "integer", "weights above theta"),
    )),
    "proteins.parquet": ("attention", "one analysed protein", (
        Column("protein_id", "string", "protein"),
        Column("n_residues", "integer", "residues analysed"),
        Column("n_residues_original", "integer", "residues in the input"),
        Column("truncated", "boolean", "cut to --max-residues"),
        Column("n_nonstandard", "integer", "non-standard residues mapped to a standard one"),
        Column("n_unknown", "integer", "residues unknown to the tokenizer"),
        Column("n_windows", "integer", "overlapping windows (1 = whole sequence)"),
    )),
    "proteins table (prepare -o)": ("prepare", "one protein chain", (
        Column("id", "string", "chain identifier (e.g. `1A8O_A`)"),
        Column("sequence", "string", "one-letter amino-acid codes (length L)"),
        Column("ca", "list", "CA coordinates in Å, L x 3 (NaN where missing)"),
        Column("valid", "list", "L booleans: the residue has coordinates"),
        Column("ss8", "string", "DSSP 8-state string of length L"),
        Column("sites", "list", "binding-site residue positions", base="0-based"),
        Column("ptms", "list", "post-translational-modification residue positions", base="0-based"),
        Column("source", "string", "input file the chain came from"),
    )),
    "comparison.csv (compare -o)": ("compare", "one model, dataset and feature beside Vig et al. (2021)", ()),
}
"""Files written by other means: their columns (the comparison's are :data:`plmscope.analysis.comparison.COMPARISON_COLUMNS`)."""


def render_markdown() -> str:
    """The Markdown document of every output table (``plmscope schemas``)."""
    lines = [
        "# plmscope outputs",
        "",
        "Generated by `plmscope schemas` from `plmscope/schemas.py`, the registry every table is checked against",
        "when it is written; do not edit by hand.",
        "",
        "**Numbering.** In every table a person reads, `layer` and `head` are **1-based** (layer 1 is the first",
        "transformer layer), as in figure labels and `label` (`layer-head`). Residue positions are stated per",
        "column (`base`). Only the machine-facing attention dataset (`attention/`) keeps 0-based indices.",
        "Each table is written as Parquet and as CSV with the same columns; no column is named after an SQL keyword.",
        "",
    ]
    verbs: dict[str, list[TableSchema]] = {}
    for table in _TABLES:
        verbs.setdefault(table.verb, []).append(table)
    for verb, tables in verbs.items():
        lines += [f"## `plmscope {verb}`", ""]
        for table in tables:
            lines += _table_markdown(f"`{table.name}.parquet` / `{table.name}.csv`", table.row, table.columns)
    lines += ["## Other files", ""]
    for path, (verb, row, columns) in OTHER_FILES.items():
        if columns:
            lines += _table_markdown(f"`{path}` (`plmscope {verb}`)", row, columns)
        else:
            lines += [f"### `{path}`", "", f"One row per {row}; columns described in `plmscope/analysis/comparison.py`.", ""]
    return "\n".join(lines).rstrip() + "\n"


def _table_markdown(title: str, row: str, columns: tuple[Column, ...]) -> list[str]:
    lines = [f"### {title}", "", f"One row per {row}.", "", "| column | type | index base | meaning |", "|---|---|---|---|"]
    for c in columns:
        flags = [s for s, on in (("may be missing", c.nullable), ("only in some runs", c.optional)) if on]
        meaning = c.meaning + (f" ({', '.join(flags)})" if flags else "")
        lines.append(f"| `{c.name}` | {c.kind} | {c.base or ''} | {meaning.replace('|', '&#124;')} |")
    return lines + [""]
