"""Headline numbers of a run (the report's front page): top head per feature, contact precision, epistasis R^2."""

from __future__ import annotations

import pandas as pd

from plmscope.analysis.features import AMINO_ACID_FEATURES, SS_GROUPS

SECTIONS: tuple[tuple[str, str], ...] = (
    ("contact", "Contacts"),
    ("binding_site", "Binding sites and PTMs"),
    ("secondary_structure", "Secondary structure"),
    ("amino_acids", "Amino acids"),
    ("epistasis", "Epistasis"),
)
"""Section key -> title, in the order the front page (and the report's categories) show them."""

FEATURE_ORDER: tuple[str, ...] = ("contact", "binding_site", "ptm", *SS_GROUPS, *AMINO_ACID_FEATURES)
"""Features in front-page order."""

HEAD_COLUMNS: tuple[str, ...] = ("section", "model", "dataset", "feature", "label", "percent", "ci_low_percent",
                                 "ci_high_percent", "background_percent", "enrichment", "p_adjusted", "n_attention")  # fmt: skip
CONTACT_COLUMNS: tuple[str, ...] = ("model", "dataset", "method", "separation_range", "k", "precision", "precision_sd",
                                    "n_proteins")  # fmt: skip
EPISTASIS_COLUMNS: tuple[str, ...] = ("landscape", "site_set", "n", "method", "test_set", "budget", "r2", "r2_lo", "r2_hi")


def section_of(feature: str) -> str:
    """The front-page section of a feature (``contact``, ``binding_site`` (PTMs too), ...)."""
    if feature == "contact":
        return "contact"
    if feature in ("binding_site", "ptm"):
        return "binding_site"
    if feature in SS_GROUPS:
        return "secondary_structure"
    return "amino_acids"


def top_head_rows(top_heads: pd.DataFrame, *, model: str, dataset: str) -> pd.DataFrame:
    """The rank-1 head of each feature of one ``top_heads`` table, as percentages (:data:`HEAD_COLUMNS`)."""
    best = top_heads[top_heads["rank"] == 1].copy()
    best["order"] = best["feature"].map({f: n for n, f in enumerate(FEATURE_ORDER)}).fillna(len(FEATURE_ORDER))
    best = best.sort_values(["order", "feature"])
    out = pd.DataFrame({
        "section": best["feature"].map(section_of), "model": model, "dataset": dataset, "feature": best["feature"],
        "label": best["label"], "percent": 100 * best["proportion"], "ci_low_percent": 100 * best["ci_low"],
        "ci_high_percent": 100 * best["ci_high"], "background_percent": 100 * best["background"],
        "enrichment": best["enrichment"], "p_adjusted": best["p_adjusted"], "n_attention": best["n_attention"],
    })  # fmt: skip
    return out.reset_index(drop=True).astype({"n_attention": "int64"})


def contact_rows(prediction: pd.DataFrame, *, model: str, dataset: str, k: str = "L/5") -> pd.DataFrame:
    """Contact precision at ``k`` of each method and separation range (:data:`CONTACT_COLUMNS`)."""
    rows = prediction[prediction["k"] == k].copy()
    rows.insert(0, "dataset", dataset)
    rows.insert(0, "model", model)
    return rows[list(CONTACT_COLUMNS)].reset_index(drop=True)


def epistasis_rows(metrics: pd.DataFrame, *, landscape: str, test_set: str = "uniform") -> pd.DataFrame:
    """R^2 of each site set and estimator on the held-out ``test_set`` variants (:data:`EPISTASIS_COLUMNS`)."""
    rows = metrics[metrics["test_set"] == test_set].copy()
    rows.insert(0, "landscape", landscape)
    return rows[list(EPISTASIS_COLUMNS)].reset_index(drop=True)
