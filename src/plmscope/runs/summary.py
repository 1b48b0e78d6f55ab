"""The ``summary`` verb: the headline numbers of a run as tables and one HTML front page."""

from __future__ import annotations

import html
import logging
from pathlib import Path
from typing import Mapping, Sequence

import pandas as pd

from plmscope.analysis.headline import (
    CONTACT_COLUMNS,
    EPISTASIS_COLUMNS,
    HEAD_COLUMNS,
    SECTIONS,
    contact_rows,
    epistasis_rows,
    top_head_rows,
)
from plmscope.errors import PlmscopeError
from plmscope.outputs import write_json, write_tables
from plmscope.schemas import schema
from plmscope.io import atomic_path

log = logging.getLogger(__name__)

PAGE = "summary.html"
"""The front page inside the output directory."""


def _read(directory: Path, name: str) -> pd.DataFrame:
    path = directory / f"{name}.parquet"
    if not path.is_file():
        raise PlmscopeError(f"{directory}: no {name}.parquet (is it an output of the matching plmscope verb?)")
    return pd.read_parquet(path)


def _model_dataset(directory: Path) -> tuple[str, str]:
    """``results/<stage>/<model>/<dataset>`` -> (model, dataset)."""
    return directory.parent.name, directory.name


def run_summary(
    output_dir: str | Path,
    *,
    enrichment: Sequence[str | Path] = (),
    contacts: Sequence[str | Path] = (),
    epistasis: Sequence[str | Path] = (),
    notes: Mapping[str, str] | None = None,
) -> dict:
    """Write ``headline_heads``, ``headline_contacts``, ``headline_epistasis`` (Parquet + CSV) and ``summary.html``.

    Args:
        output_dir: directory written atomically.
        enrichment: ``plmscope enrichment`` outputs (``<model>/<dataset>`` directories with ``top_heads``).
        contacts: ``plmscope contacts`` outputs (``contact_prediction``).
        epistasis: ``plmscope epistasis`` outputs (``<landscape>`` directories with ``metrics``).
        notes: section key (:data:`plmscope.analysis.headline.SECTIONS`) -> why it has no numbers
            (a stage switched off, a dataset without structures); shown in its section.

    Returns:
        Rows per table.
    """
    notes = dict(notes or {})
    unknown = sorted(set(notes) - {key for key, _ in SECTIONS})
    if unknown:
        raise PlmscopeError(f"summary notes: unknown section(s) {unknown}; choose from {[k for k, _ in SECTIONS]}")
    heads = [top_head_rows(_read(Path(d), "top_heads"), model=m, dataset=s)
             for d in enrichment for m, s in [_model_dataset(Path(d))]]  # fmt: skip
    precision = [contact_rows(_read(Path(d), "contact_prediction"), model=m, dataset=s)
                 for d in contacts for m, s in [_model_dataset(Path(d))]]  # fmt: skip
    r2 = [epistasis_rows(_read(Path(d), "metrics"), landscape=Path(d).name) for d in epistasis]
    tables = {
        "headline_heads": pd.concat(heads, ignore_index=True) if heads else pd.DataFrame(columns=list(HEAD_COLUMNS)),
        "headline_contacts": pd.concat(precision, ignore_index=True) if precision else pd.DataFrame(columns=list(CONTACT_COLUMNS)),
        "headline_epistasis": pd.concat(r2, ignore_index=True) if r2 else pd.DataFrame(columns=list(EPISTASIS_COLUMNS)),
    }  # fmt: skip
    dtypes = {"string": "object", "integer": "int64", "float": "float64", "boolean": "bool"}
    for name, frame in tables.items():
        if frame.empty:  # typed empty columns, so the schema check and Parquet see the right kinds
            tables[name] = frame.astype({c.name: dtypes[c.kind] for c in schema(name).columns})
    with atomic_path(output_dir, directory=True, inputs=[*enrichment, *contacts, *epistasis]) as tmp:
        write_tables(tmp, tables)
        (tmp / PAGE).write_text(render_page(tables, notes))
        write_json(tmp / "meta.json", {"enrichment": [str(p) for p in enrichment], "contacts": [str(p) for p in contacts],
                                       "epistasis": [str(p) for p in epistasis], "notes": notes})  # fmt: skip
    summary = {name: len(frame) for name, frame in tables.items()}
    log.info("wrote the run summary (%s) to %s", summary, output_dir)
    return summary


def _fmt(value: float, digits: int = 1) -> str:
    return "" if pd.isna(value) else f"{value:.{digits}f}"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _head_table(rows: pd.DataFrame) -> str:
    header = ["model / dataset", "feature", "top head (layer-head)", "% attention [95% CI]", "background %",
              "enrichment", "Bonferroni p"]  # fmt: skip
    return _table(header, [
        (f"{r.model} / {r.dataset}", r.feature, r.label,
         f"{_fmt(r.percent)} [{_fmt(r.ci_low_percent)}, {_fmt(r.ci_high_percent)}]", _fmt(r.background_percent, 2),
         _fmt(r.enrichment, 2), f"{r.p_adjusted:.1e}")
        for r in rows.itertuples()
    ])  # fmt: skip


def render_page(tables: Mapping[str, pd.DataFrame], notes: Mapping[str, str]) -> str:
    """The front page: one section per :data:`SECTIONS` entry, each a table or the reason it has none."""
    heads, contacts, r2 = tables["headline_heads"], tables["headline_contacts"], tables["headline_epistasis"]
    parts = ["<!DOCTYPE html><html><head><meta charset='utf-8'><title>plmscope: headline numbers</title>",
             "<style>body{font-family:sans-serif;max-width:60em;margin:1em auto}table{border-collapse:collapse;"
             "margin-bottom:1em}td,th{border:1px solid #ccc;padding:2px 8px;text-align:left}</style></head><body>",
             "<h1>plmscope: headline numbers</h1>",
             "<p>Top head per feature: the head with the largest share of its thresholded attention on the feature "
             "(layer-head 1-based), with its Bonferroni-corrected 95% Wilson interval and the feature's background. "
             "Tables: <code>headline_*.csv</code> beside this page.</p>"]  # fmt: skip
    for key, title in SECTIONS:
        parts.append(f"<h2 id='{key}'>{html.escape(title)}</h2>")
        if key in notes:
            parts.append(f"<p><em>{html.escape(notes[key])}</em></p>")
        if key == "epistasis":
            if r2.empty:
                parts.append("<p>No epistasis landscape in this run.</p>" if key not in notes else "")
                continue
            parts.append("<p>R<sup>2</sup> of each estimator on held-out uniform variants, with bootstrap 95% CIs.</p>")
            parts.append(_table(["landscape", "site set", "n", "estimator", "queries", "R^2 [95% CI]"], [
                (r.landscape, r.site_set, r.n, r.method, r.budget, f"{_fmt(r.r2, 3)} [{_fmt(r.r2_lo, 3)}, {_fmt(r.r2_hi, 3)}]")
                for r in r2.itertuples()
            ]))  # fmt: skip
            continue
        rows = heads[heads["section"] == key]
        if rows.empty and key not in notes:
            parts.append("<p>No enrichment for these features in this run.</p>")
        elif not rows.empty:
            parts.append(_head_table(rows))
        if key == "contact":
            parts.append("<h3>Contact prediction from attention (precision at L/5)</h3>")
            if contacts.empty:
                parts.append("<p>No contact prediction in this run.</p>")
            else:
                parts.append(_table(["model / dataset", "method", "separation", "precision [sd]", "test proteins"], [
                    (f"{r.model} / {r.dataset}", r.method, r.separation_range, f"{_fmt(r.precision, 3)} [{_fmt(r.precision_sd, 3)}]",
                     r.n_proteins) for r in contacts.itertuples()
                ]))  # fmt: skip
    parts.append("</body></html>\n")
    return "\n".join(parts)
