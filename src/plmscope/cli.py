"""The ``plmscope`` command line: one thin ``run_*`` per verb, each calling one stage function."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Callable, Sequence

from plmscope import options as opt
from plmscope.analysis.semantics import DEFAULT_SEMANTICS, SEMANTICS  # to be unified with options.SEMANTICS (issue #14)
from plmscope.errors import PlmscopeError
from plmscope.io import writing_for


PARQUET_SUFFIXES: tuple[str, ...] = (".parquet", ".pq")
"""File name endings accepted for a Parquet output (``prepare -o``)."""

EXAMPLES: dict[str, str] = {
    "prepare": "plmscope prepare --format pdb --dssp 1abc.pdb -o proteins.parquet",
    "attention": "plmscope attention --proteins proteins.parquet --model antiberty -o attention/",
    "enrichment": "plmscope enrichment --attention attention/ --proteins proteins.parquet -o enrichment/",
    "figures": "plmscope figures --enrichment enrichment/ -o figures/",
    "contacts": "plmscope contacts --proteins proteins.parquet --model antiberty -o contacts/",
    "robustness": "plmscope robustness --proteins proteins.parquet --model antiberty -o robustness/",
    "paper": "plmscope paper --enrichment enrichment/ -o paper_analyses/",
    "compare": "plmscope compare --enrichment enrichment/ --paper-analyses paper_analyses/ -o comparison.csv",
    "probe": "plmscope probe --proteins proteins.parquet --model antiberty -o probing/",
    "epistasis": "plmscope epistasis --spec config.yaml --landscape antiberty_vh_q2 -o epistasis/",
    "view": "plmscope view --proteins proteins.parquet --attention attention/ --protein 1ABC_A --layer 3 --head 5 -o 1abc.html",
    "download": "plmscope download --name tape_proteinnet --cache resources/downloads",
    "convert-tape": "plmscope convert-tape resources/tape/bert-base -o resources/models/tape_bert",
    "models": "plmscope models",
    "schemas": "plmscope schemas -o results/README.md",
    "plan": "plmscope plan --proteins proteins.parquet --dataset mine -o mine.plan.json",
    "seqview": "plmscope seqview --proteins proteins.parquet --attention attention/ -o seqviews/",
    "summary": "plmscope summary --enrichment enrichment/antiberty/demo --contacts contacts/antiberty/demo -o summary/",
    "contact-maps": "plmscope contact-maps --proteins mine.parquet --model antiberty --regression contacts/ -o contact_maps/",
}
"""One example command per verb, shown at the end of ``plmscope <verb> --help``."""


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the description's and example's line breaks; appends ``(default: X)`` to options that have one."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if "%(default)" in text or not action.option_strings or action.default in (None, False, argparse.SUPPRESS):
            return text
        return f"{text} (default: %(default)s)" if text else "default: %(default)s"


def run_prepare(args: argparse.Namespace) -> None:
    """Parse input files into one protein table (Parquet)."""
    from plmscope.runs.prepare import run_prepare as run

    from plmscope.io import check_output

    check_output(args.output, directory=False, inputs=args.inputs)  # "refusing to replace the input" comes first
    suffix = Path(args.output).suffix.lower()
    if suffix and suffix not in PARQUET_SUFFIXES:
        raise PlmscopeError(f"-o {args.output}: the protein table is written as Parquet; name it *.parquet (got {suffix})")
    n = run(
        [Path(p) for p in args.inputs],
        fmt=args.format,
        output=Path(args.output),
        dssp=args.dssp,
        sample=args.sample,
        seed=args.seed,
        semantics=args.semantics,
    )
    logging.info("wrote %d protein chains to %s", n, args.output)


def run_attention(args: argparse.Namespace) -> None:
    """Run the model over the protein table and write the thresholded attention dataset."""
    from plmscope.runs.attention import run_attention as run

    summary = run(
        Path(args.proteins),
        Path(args.output),
        model=args.model,
        theta=args.theta,
        max_residues=args.max_residues,
        max_tokens=args.max_tokens,
        long_sequences=args.long_sequences,
        window_stride=args.window_stride,
        device=args.device,
        dtype=args.dtype,
        semantics=args.semantics,
        shard=args.shard,
        resume=not args.restart,
        rows_per_part=args.rows_per_part,
        proteins_per_part=args.proteins_per_part,
    )
    logging.info("attention summary: %s", summary)


def run_enrichment(args: argparse.Namespace) -> None:
    """Compare thresholded attention with protein features (contacts, sites, PTMs, SS, amino acids)."""
    from plmscope.runs.enrichment import run_enrichment as run

    summary = run(
        [Path(p) for p in args.attention],
        Path(args.proteins),
        Path(args.output),
        min_count=args.min_count,
        alpha=args.alpha,
        top_k=args.top_k,
        contact_cutoff=args.contact_cutoff,
        contact_min_separation=args.contact_min_separation,
        background_proteins=args.background_proteins,
        semantics=args.semantics,
    )
    logging.info("enrichment summary: %s", summary)


def run_figures(args: argparse.Namespace) -> None:
    """Draw the enrichment figures (PNG and SVG)."""
    from plmscope.runs.figures import run_figures as run

    run(Path(args.enrichment), Path(args.output))


def run_contacts(args: argparse.Namespace) -> None:
    """Predict contacts from attention (L1 logistic regression on APC maps) and score P@L by range."""
    from plmscope.runs.contacts import run_contacts as run

    summary = run(
        Path(args.proteins),
        Path(args.output),
        model=args.model,
        train_proteins=args.train_proteins,
        seed=args.seed,
        C=args.C,
        solver=args.solver,
        standardize=not args.no_standardize,
        contact_cutoff=args.contact_cutoff,
        select_range=args.select_range,
        n_maps=args.n_maps,
        max_residues=args.max_residues,
        long_sequences=args.long_sequences,
        device=args.device,
        dtype=args.dtype,
    )
    logging.info("contacts summary: %s", summary)


def run_robustness(args: argparse.Namespace) -> None:
    """Follow the top enrichment heads through random-weight and shuffled-sequence nulls and thresholds."""
    from plmscope.runs.robustness import run_null_models as run

    summary = run(
        Path(args.proteins),
        Path(args.output),
        model=args.model,
        theta=args.theta,
        thresholds=args.thresholds,
        top_k=args.top_k,
        seed=args.seed,
        random_std=args.random_std,
        n_boot=args.n_boot,
        alpha=args.alpha,
        min_count=args.min_count,
        contact_cutoff=args.contact_cutoff,
        contact_min_separation=args.contact_min_separation,
        max_residues=args.max_residues,
        max_tokens=args.max_tokens,
        long_sequences=args.long_sequences,
        device=args.device,
        dtype=args.dtype,
    )
    logging.info("robustness summary: %s", summary)


def run_paper(args: argparse.Namespace) -> None:
    """Cross-layer center of gravity, per-layer maxima, per-amino-acid top heads and BLOSUM62 similarity."""
    from plmscope.runs.paper_analyses import run_paper_analyses

    summary = run_paper_analyses(
        Path(args.enrichment), Path(args.output), model_key=args.model_key, label=args.label, dataset=args.dataset,
        semantics=args.semantics,
    )
    logging.info("paper analyses summary: %s", summary)


def run_compare(args: argparse.Namespace) -> None:
    """Put our top heads and BLOSUM62 correlations beside the values of Vig et al. (2021)."""
    from plmscope.runs.paper_analyses import run_comparison

    pairs = {}
    for item in args.feature_dataset or []:
        feature, sep, dataset = item.partition("=")
        if not sep or not feature or not dataset:
            raise PlmscopeError(f"--feature-dataset {item!r}: expected FEATURE=DATASET")
        pairs[feature] = dataset
    summary = run_comparison(
        [Path(p) for p in args.enrichment],
        [Path(p) for p in args.paper_analyses],
        Path(args.output),
        output_md=None if args.markdown is None else Path(args.markdown),
        paper_heads=Path(args.paper_heads),
        paper_blosum=Path(args.paper_blosum),
        feature_datasets=pairs or None,
        probing_dirs=None if args.probing is None else [Path(p) for p in args.probing],
        alternate_dirs=args.enrichment_alternate,
    )
    logging.info("comparison summary: %s", summary)


def run_probe(args: argparse.Namespace) -> None:
    """Train linear probes on frozen embeddings and attention; score them per layer on held-out proteins."""
    from plmscope.runs.probing import run_probing

    summary = run_probing(
        Path(args.proteins),
        Path(args.output),
        model=args.model,
        valid_proteins_path=None if args.valid_proteins is None else Path(args.valid_proteins),
        valid_fraction=args.valid_fraction,
        seed=args.seed,
        tasks=args.tasks,
        max_pairs_per_protein=args.max_pairs_per_protein,
        max_residues_per_protein=args.max_residues_per_protein,
        C=args.C,
        max_iter=args.max_iter,
        contact_cutoff=args.contact_cutoff,
        contact_min_separation=args.contact_min_separation,
        max_residues=args.max_residues,
        max_tokens=args.max_tokens,
        layers_per_pass=args.layers_per_pass,
        device=args.device,
        dtype=args.dtype,
        threads=args.threads,
        semantics=args.semantics,
        max_epochs=args.max_epochs,
    )
    logging.info("probing summary: %s", summary)


def run_epistasis(args: argparse.Namespace) -> None:
    """Recover higher-order interactions of masked-LM variant scores (q-SFT, LASSO, exact transform)."""
    from plmscope.runs.epistasis import run_epistasis as run

    summary = run(
        args.spec,
        Path(args.output),
        landscape=args.landscape,
        cache_dir=args.cache_dir,
        progress=not args.no_progress,
    )
    logging.info("epistasis summary: %s", summary)


# in build_parser():


def run_view(args: argparse.Namespace) -> None:
    """Write standalone offline 3D attention viewers (HTML) for proteins and heads."""
    from plmscope.runs import view

    if args.protein is not None:
        if args.layer is None or args.head is None:
            raise PlmscopeError("view --protein needs --layer and --head (1-based, as in figure labels)")
        summary = view.run_view(
            Path(args.proteins),
            Path(args.attention),
            Path(args.output),
            protein_id=args.protein,
            layer=args.layer - 1,
            head=args.head - 1,
            threshold=args.threshold,
            min_weight=args.min_weight,
        )
    else:
        summary = view.run_view_many(
            Path(args.proteins),
            Path(args.attention),
            Path(args.output),
            protein_ids=args.protein_ids,
            top_heads=None if args.top_heads is None else Path(args.top_heads),
            feature=args.feature,
            layer=None if args.layer is None else args.layer - 1,
            head=None if args.head is None else args.head - 1,
            threshold=args.threshold,
            min_weight=args.min_weight,
            max_proteins=args.max_proteins,
        )
    logging.info("viewer summary: %s", summary)


def run_plan(args: argparse.Namespace) -> None:
    """Count what a protein table carries (coordinates, labels) and plan which analyses it supports."""
    from plmscope.runs.plan import run_plan as run

    run(
        Path(args.proteins),
        Path(args.output),
        dataset=args.dataset,
        markdown=None if args.markdown is None else Path(args.markdown),
        contacts_train_proteins=args.contacts_train_proteins,
        contact_cutoff=args.contact_cutoff,
        valid_dataset=args.valid_dataset,
        inactive=args.inactive,
    )


def run_seqview(args: argparse.Namespace) -> None:
    """Write sequence-level attention views (head view + model view, offline HTML) for every protein; no structure needed."""
    from plmscope.runs.view import run_seqview as run

    summary = run(Path(args.proteins), Path(args.attention), Path(args.output), max_proteins=args.max_proteins,
                  min_weight=args.min_weight)  # fmt: skip
    logging.info("sequence views: %s", summary)


def run_contact_maps(args: argparse.Namespace) -> None:
    """Predict contact probability maps for any sequences with the regression a `contacts` run saved."""
    from plmscope.runs.contact_maps import run_contact_maps as run

    summary = run(Path(args.proteins), Path(args.regression), Path(args.output), model=args.model,
                  max_residues=args.max_residues, long_sequences=args.long_sequences, device=args.device,
                  dtype=args.dtype, progress=not args.no_progress)  # fmt: skip
    logging.info("contact maps: %s", summary)


def run_summary(args: argparse.Namespace) -> None:
    """Write the run's headline numbers (top head per feature, contact precision, epistasis R^2) and an HTML page."""
    from plmscope.runs.summary import run_summary as run

    notes = {}
    for item in args.note or []:
        section, sep, text = item.partition("=")
        if not sep or not section:
            raise PlmscopeError(f"--note {item!r}: expected SECTION=TEXT")
        notes[section] = f"{notes[section]} {text}" if section in notes else text
    run(Path(args.output), enrichment=args.enrichment, contacts=args.contacts, epistasis=args.epistasis, notes=notes)


def run_download(args: argparse.Namespace) -> None:
    """Download a manifest entry or URL (retried, checksummed, atomic), or unpack an archive."""
    from plmscope.runs.download import run_download as run

    path = run(
        name=args.name,
        url=args.url,
        extract=args.extract,
        output=args.output,
        sha256=args.sha256,
        md5=args.md5,
        strip_components=args.strip_components,
        manifest=args.manifest,
        cache_dir=args.cache,
        retries=args.retries,
        timeout=args.timeout,
    )
    logging.info("ready: %s", path)


def run_convert_tape(args: argparse.Namespace) -> None:
    """Convert a TAPE BERT checkpoint (config.json + pytorch_model.bin) into a transformers model directory."""
    from plmscope.runs.convert_tape import run_convert_tape as run

    logging.info("converted: %s", run(Path(args.tape_dir), Path(args.output)))


def run_schemas(args: argparse.Namespace) -> None:
    """Write the Markdown description of every output table (columns, types, index base)."""
    from plmscope.runs.schemas import run_schemas as run

    logging.info("wrote %s", run(None if args.output in (None, "-") else Path(args.output)))


def run_models(args: argparse.Namespace) -> None:
    """List the models plmscope knows by name."""
    from plmscope.models.known import KNOWN_MODELS

    for name, spec in KNOWN_MODELS.items():
        print(f"{name}\t{spec.family}\t{spec.num_layers} layers x {spec.num_heads} heads\t{spec.description}")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every verb."""
    from plmscope import __version__

    parser = argparse.ArgumentParser(
        prog="plmscope",
        description="Interpret protein language models: where their attention falls (contacts, binding sites, "
                    "secondary structure, amino acids; Vig et al. 2021), how well it predicts contacts, and the "
                    "higher-order interactions (epistasis) of their variant scores.",
        epilog="a typical run: prepare -> attention -> enrichment -> figures / view / paper;\n"
               "`plmscope VERB --help` describes each verb with its defaults and an example.",
        formatter_class=_HelpFormatter,
    )  # fmt: skip
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser.add_argument("--log", metavar="FILE",
                        help="write the full log to FILE; the console (stderr) then shows only progress lines, "
                             "warnings and errors (what the workflow's rules use)")  # fmt: skip
    parser.add_argument("--version", action="version", version=f"plmscope {__version__}")
    sub = parser.add_subparsers(dest="verb", required=True, title="verbs", metavar="VERB")

    p = sub.add_parser("prepare", help=run_prepare.__doc__)
    p.add_argument("--format", required=True, choices=opt.INPUT_FORMATS)
    p.add_argument("inputs", nargs="+", help="input files (LMDB: the .lmdb directory)")
    p.add_argument("-o", "--output", required=True, help="protein table (.parquet)")
    p.add_argument("--dssp", action="store_true", help="assign ss8 with mkdssp (pdb format only)")
    p.add_argument("--sample", type=int, default=None, help="keep a seeded random subset of N records")
    p.add_argument("--seed", type=int, default=opt.PREPARE_SEED, help="seed of --sample (paper: 123)")
    p.add_argument("--semantics", choices=opt.SEMANTICS_CHOICES, default=opt.SEMANTICS,
                   help="how --sample draws: provis = torch.randperm(n)[:N] in that order, plmscope = numpy draw in input order")
    p.set_defaults(func=run_prepare)

    p = sub.add_parser("attention", help=run_attention.__doc__)
    p.add_argument("--proteins", required=True)
    p.add_argument("--model", required=True, help="'antiberty', a Hugging Face name or a local model dir")
    p.add_argument("-o", "--output", required=True, help="attention dataset directory")
    p.add_argument("--theta", type=float, default=opt.THETA, help="attention threshold (paper: 0.3)")
    p.add_argument("--max-residues", type=int, default=opt.MAX_RESIDUES)
    p.add_argument("--max-tokens", type=opt.max_tokens_arg, default=opt.MAX_TOKENS,
                   help="padded tokens per batch, or auto (4096 on CPU, 16384 on CUDA)")
    p.add_argument("--long-sequences", choices=opt.LONG_SEQUENCE_POLICIES, default=opt.LONG_SEQUENCES,
                   help="sequences over --max-residues: truncate (paper), skip, error, or window (overlapping windows)")
    p.add_argument("--window-stride", type=int, default=None,
                   help="residues between window starts with --long-sequences window (default: max-residues // 2)")
    p.add_argument("--restart", action="store_true",
                   help="discard the partial results of an interrupted run (<output>.partial) instead of resuming")
    p.add_argument("--rows-per-part", type=int, default=opt.ROWS_PER_PART, help=argparse.SUPPRESS)
    p.add_argument("--proteins-per-part", type=int, default=opt.PROTEINS_PER_PART,
                   help="proteins per Parquet part, also how often progress is saved for resuming")
    p.add_argument("--device", default=opt.DEVICE, help="auto, cpu, cuda, cuda:N")
    p.add_argument("--dtype", default=opt.DTYPE, choices=opt.DTYPES)
    p.add_argument("--semantics", choices=opt.SEMANTICS_CHOICES, default=opt.SEMANTICS,
                   help="provis runs the model in float32 (as the authors did) and refuses another explicit --dtype")
    p.add_argument("--shard", metavar="K/N", default=None,
                   help="run only proteins i with i %% N == K (0-based), one of N jobs; enrichment sums the shards")
    p.set_defaults(func=run_attention)

    p = sub.add_parser("enrichment", help=run_enrichment.__doc__)
    p.add_argument("--attention", required=True, nargs="+",
                   help="attention dataset directory, or the shards of one run (their counts are summed)")
    p.add_argument("--proteins", required=True)
    p.add_argument("-o", "--output", required=True, help="output directory")
    p.add_argument("--min-count", type=int, default=opt.MIN_COUNT, help="mask heads with fewer thresholded weights")
    p.add_argument("--alpha", type=float, default=opt.ALPHA, help="family-wise error rate (Bonferroni)")
    p.add_argument("--top-k", type=int, default=opt.TOP_K)
    p.add_argument("--contact-cutoff", type=float, default=opt.CONTACT_CUTOFF, help="CA-CA distance in Å")
    p.add_argument("--contact-min-separation", type=int, default=opt.CONTACT_MIN_SEPARATION, help="minimum |i-j|")
    p.add_argument(
        "--background-proteins", help="protein table for background frequencies (paper: the full train split)"
    )
    p.add_argument("--semantics", choices=opt.SEMANTICS_CHOICES, default=opt.SEMANTICS,
                   help="provis: the authors' definitions (weights > theta summed, provis backgrounds and intervals); plmscope: corrected")
    p.set_defaults(func=run_enrichment)

    p = sub.add_parser("figures", help=run_figures.__doc__)
    p.add_argument("--enrichment", required=True, help="enrichment output directory")
    p.add_argument("-o", "--output", required=True, help="figure directory")
    p.set_defaults(func=run_figures)

    p = sub.add_parser("contacts", help=run_contacts.__doc__)
    p.add_argument("--proteins", required=True)
    p.add_argument("--model", required=True, help="'antiberty', a Hugging Face name or a local model dir")
    p.add_argument("-o", "--output", required=True, help="output directory")
    p.add_argument("--train-proteins", type=int, default=opt.CONTACT_TRAIN_PROTEINS,
                   help="proteins to fit on (Rao et al.: 20)")
    p.add_argument("--seed", type=int, default=0, help="train/test split and solver seed")
    p.add_argument("--C", type=float, default=opt.CONTACT_C, help="inverse L1 regularisation strength")
    p.add_argument("--solver", choices=opt.SOLVERS, default=opt.CONTACT_SOLVER)
    p.add_argument("--no-standardize", action="store_true", help="fit on raw APC features (not z-scored)")
    p.add_argument("--contact-cutoff", type=float, default=opt.CONTACT_CUTOFF, help="CA-CA distance in Å")
    p.add_argument("--select-range", choices=opt.SELECT_RANGES, default=opt.CONTACT_SELECT_RANGE,
                   help="separation range in which the best single head is chosen")
    p.add_argument("--n-maps", type=int, default=opt.CONTACT_N_MAPS, help="test proteins drawn as contact maps")
    p.add_argument("--max-residues", type=int, default=opt.MAX_RESIDUES)
    p.add_argument("--long-sequences", choices=opt.WHOLE_SEQUENCE_POLICIES, default=opt.LONG_SEQUENCES)
    p.add_argument("--device", default=opt.DEVICE, help="auto, cpu, cuda, cuda:N")
    p.add_argument("--dtype", default=opt.DTYPE, choices=opt.DTYPES)
    p.set_defaults(func=run_contacts)

    p = sub.add_parser("robustness", help=run_robustness.__doc__)
    p.add_argument("--proteins", required=True)
    p.add_argument("--model", required=True, help="'antiberty', a Hugging Face name or a local model dir")
    p.add_argument("-o", "--output", required=True, help="output directory")
    p.add_argument("--theta", type=float, default=opt.THETA, help="threshold of the comparison and top-head ranking")
    p.add_argument("--thresholds", type=float, nargs="+", default=list(opt.THRESHOLDS), help="threshold sweep")
    p.add_argument("--top-k", type=int, default=opt.ROBUSTNESS_TOP_K, help="heads followed per feature")
    p.add_argument("--seed", type=int, default=0, help="seed of the random weights, the shuffle, the bootstrap")
    p.add_argument("--random-std", type=float, default=None,
                   help="std of the random weights (default: the model's own initializer_range)")
    p.add_argument("--n-boot", type=int, default=opt.N_BOOT, help="bootstrap replicates")
    p.add_argument("--alpha", type=float, default=opt.ALPHA)
    p.add_argument("--min-count", type=int, default=opt.MIN_COUNT, help="mask heads with fewer thresholded weights")
    p.add_argument("--contact-cutoff", type=float, default=opt.CONTACT_CUTOFF, help="CA-CA distance in Å")
    p.add_argument("--contact-min-separation", type=int, default=opt.CONTACT_MIN_SEPARATION, help="minimum |i-j|")
    p.add_argument("--max-residues", type=int, default=opt.MAX_RESIDUES)
    p.add_argument("--max-tokens", type=opt.max_tokens_arg, default=opt.MAX_TOKENS,
                   help="padded tokens per batch, or auto (4096 on CPU, 16384 on CUDA)")
    p.add_argument("--long-sequences", choices=opt.WHOLE_SEQUENCE_POLICIES, default=opt.LONG_SEQUENCES)
    p.add_argument("--device", default=opt.DEVICE, help="auto, cpu, cuda, cuda:N")
    p.add_argument("--dtype", default=opt.DTYPE, choices=opt.DTYPES)
    p.set_defaults(func=run_robustness)

    p = sub.add_parser("paper", help=run_paper.__doc__)
    p.add_argument("--enrichment", required=True, help="enrichment output directory")
    p.add_argument("-o", "--output", required=True, help="output directory")
    p.add_argument("--model-key", help="key in the paper tables (default: from the model name, e.g. prot_bert)")
    p.add_argument("--label", help="our name for the model (default: the model key)")
    p.add_argument("--dataset", help="dataset name recorded for the comparison")
    p.add_argument("--semantics", choices=opt.SEMANTICS_CHOICES, default=opt.SEMANTICS,
                   help="center of gravity: provis = 0-based, layers without a scored head undefined; plmscope = 1-based")
    p.set_defaults(func=run_paper)

    p = sub.add_parser("compare", help=run_compare.__doc__)
    p.add_argument("--enrichment", nargs="+", required=True, help="enrichment directories")
    p.add_argument("--paper-analyses", nargs="+", required=True, help="`plmscope paper` outputs, same order")
    p.add_argument("-o", "--output", required=True, help="comparison table (.csv)")
    p.add_argument("--markdown", help="Markdown rendering (default: the output with .md)")
    p.add_argument("--paper-heads", default="resources/paper/vig2021_top_heads.csv")
    p.add_argument("--paper-blosum", default="resources/paper/vig2021_blosum.csv")
    p.add_argument("--feature-dataset", nargs="+", metavar="FEATURE=DATASET",
                   help="dataset each feature is measured on (amino_acids=... for BLOSUM62)")
    p.add_argument("--probing", nargs="*", metavar="DIR",
                   help="probing outputs (<model>/<dataset>, provis or plmscope semantics) to list, labelled, in "
                        "probing_comparison.csv beside the output (given without DIR: written empty, no probing ran)")
    p.add_argument("--enrichment-alternate", nargs="+", default=None,
                   help="the same runs' enrichment under the other semantics, same order (fills the other column)")
    p.set_defaults(func=run_compare)

    p = sub.add_parser("probe", help=run_probe.__doc__)
    p.add_argument("--proteins", required=True, help="protein table (training proteins)")
    p.add_argument("--model", required=True, help="'antiberty', a Hugging Face name or a local model dir")
    p.add_argument("-o", "--output", required=True, help="output directory")
    p.add_argument("--valid-proteins", help="validation protein table (default: split --proteins)")
    p.add_argument("--valid-fraction", type=float, default=opt.PROBE_VALID_FRACTION,
                   help="held-out share when splitting")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--tasks", nargs="+", choices=opt.PROBE_TASKS, help="probe tasks (default: all)")
    p.add_argument("--max-pairs-per-protein", type=int, default=opt.PROBE_MAX_PAIRS,
                   help="contact pairs per training protein")
    p.add_argument("--max-residues-per-protein", type=int, help="residues per training protein (default: all)")
    p.add_argument("--C", type=float, default=opt.PROBE_C, help="inverse L2 strength of the logistic regressions")
    p.add_argument("--max-iter", type=int, default=opt.PROBE_MAX_ITER)
    p.add_argument("--contact-cutoff", type=float, default=opt.CONTACT_CUTOFF, help="CA-CA distance in Å")
    p.add_argument("--contact-min-separation", type=int, default=opt.CONTACT_MIN_SEPARATION, help="minimum |i-j|")
    p.add_argument("--max-residues", type=int, default=opt.MAX_RESIDUES)
    p.add_argument("--max-tokens", type=int, default=opt.PROBE_MAX_TOKENS, help="padded tokens per batch")
    p.add_argument("--layers-per-pass", type=int, help="layers held in memory at once (default: all)")
    p.add_argument("--device", default=opt.DEVICE, help="auto, cpu, cuda, cuda:N")
    p.add_argument("--dtype", default=opt.DTYPE, choices=opt.DTYPES)
    p.add_argument("--threads", type=int, default=opt.PROBE_THREADS, help="CPU threads for torch and the probes' BLAS")
    p.add_argument("--semantics", choices=SEMANTICS, default=DEFAULT_SEMANTICS,
                   help="provis: the authors' probes (linear layer, AdamW, early stopping on --valid-proteins, layers 1..N); "
                        "plmscope: the corrected logistic-regression probes")
    p.add_argument("--max-epochs", type=int, help="provis: cap on each probe's training epochs (default: provis's 50)")
    p.set_defaults(func=run_probe)

    p = sub.add_parser("epistasis", help=run_epistasis.__doc__)
    p.add_argument("--spec", required=True,
                   help="landscape config: a YAML/JSON file (a landscape, {name: landscape}, or a workflow config "
                        "with epistasis.landscapes) or an inline JSON object")
    p.add_argument("--landscape", help="landscape name inside --spec (needed when it holds several)")
    p.add_argument("-o", "--output", required=True, help="output directory (written atomically)")
    p.add_argument("--cache-dir", help="query-cache directory shared across runs (default: the config's cache_dir)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=run_epistasis)

    p = sub.add_parser("view", help=run_view.__doc__)
    p.add_argument("--proteins", required=True)
    p.add_argument("--attention", required=True, help="attention dataset directory")
    p.add_argument("-o", "--output", required=True, help="HTML file (--protein) or directory")
    p.add_argument("--protein", help="one protein id: write one HTML file")
    p.add_argument("--protein-ids", nargs="+", help="proteins for the directory mode (default: first few)")
    p.add_argument("--layer", type=int, help="1-based layer (as in figure labels)")
    p.add_argument("--head", type=int, help="1-based head (as in figure labels)")
    p.add_argument("--top-heads", help="enrichment directory or top_heads table: use its best head")
    p.add_argument("--feature", default=opt.VIEW_FEATURE, help="feature whose top head is shown")
    p.add_argument("--threshold", type=float, help="initial attention threshold in the page")
    p.add_argument("--min-weight", type=float, help="lowest weight embedded in the page")
    p.add_argument("--max-proteins", type=int, default=opt.VIEW_MAX_PROTEINS)
    p.set_defaults(func=run_view)

    p = sub.add_parser("plan", help=run_plan.__doc__)
    p.add_argument("--proteins", required=True, help="protein table")
    p.add_argument("-o", "--output", required=True, help="plan JSON (capabilities and analyses run or skipped)")
    p.add_argument("--dataset", required=True, help="dataset name (messages, title)")
    p.add_argument("--markdown", help="also write the plan as a Markdown page")
    p.add_argument("--contacts-train-proteins", type=int, default=opt.CONTACT_TRAIN_PROTEINS,
                   help="proteins the contact regression trains on")
    p.add_argument("--contact-cutoff", type=float, default=opt.CONTACT_CUTOFF,
                   help="CA-CA distance (Å) of a contact: a table without a contact at |i - j| >= 6 skips contacts")
    p.add_argument("--valid-dataset", action="store_true", help="probing validates on another dataset")
    p.add_argument("--inactive", nargs="*", default=[], help="analyses switched off in the configuration")
    p.set_defaults(func=run_plan)

    p = sub.add_parser("seqview", help=run_seqview.__doc__)
    p.add_argument("--proteins", required=True, help="protein table")
    p.add_argument("--attention", required=True, help="attention dataset directory of that table")
    p.add_argument("-o", "--output", required=True, help="output directory: <protein>.html and index.html")
    p.add_argument("--max-proteins", type=int, help="the first N analysed proteins (default: all)")
    p.add_argument("--min-weight", type=float, help="lowest weight embedded in the pages")
    p.set_defaults(func=run_seqview)

    p = sub.add_parser("contact-maps", help=run_contact_maps.__doc__)
    p.add_argument("--proteins", required=True, help="protein table (structures not needed)")
    p.add_argument("--model", required=True, help="the model the regression was fitted for")
    p.add_argument("--regression", required=True, help="output directory of `plmscope contacts` (regression.parquet)")
    p.add_argument("-o", "--output", required=True, help="output directory: contact_probs.parquet, one PNG per protein")
    p.add_argument("--max-residues", type=int, default=opt.MAX_RESIDUES)
    p.add_argument("--long-sequences", choices=opt.WHOLE_SEQUENCE_POLICIES, default=opt.LONG_SEQUENCES)
    p.add_argument("--device", default=opt.DEVICE, help="auto, cpu, cuda, cuda:N")
    p.add_argument("--dtype", default=opt.DTYPE, choices=opt.DTYPES)
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=run_contact_maps)

    p = sub.add_parser("summary", help=run_summary.__doc__)
    p.add_argument("--enrichment", nargs="*", default=[], help="enrichment output directories (<model>/<dataset>)")
    p.add_argument("--contacts", nargs="*", default=[], help="contacts output directories (<model>/<dataset>)")
    p.add_argument("--epistasis", nargs="*", default=[], help="epistasis output directories (<landscape>)")
    p.add_argument("--note", action="append", metavar="SECTION=TEXT",
                   help="why a section (contact, binding_site, secondary_structure, amino_acids, epistasis) has no numbers")
    p.add_argument("-o", "--output", required=True, help="output directory (written atomically)")
    p.set_defaults(func=run_summary)

    p = sub.add_parser("download", help=run_download.__doc__)
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--name", help="entry of the download manifest")
    what.add_argument("--url", help="any URL (needs -o)")
    what.add_argument("--extract", metavar="ARCHIVE", help="unpack a .tar.gz (needs -o)")
    p.add_argument("-o", "--output")
    p.add_argument("--sha256", help="expected SHA-256 ('' = unknown: the digest is recorded)")
    p.add_argument("--md5")
    p.add_argument("--strip-components", type=int, default=0)
    p.add_argument("--manifest", default="resources/downloads.yaml")
    p.add_argument("--cache", default="resources/downloads", help="download cache directory")
    p.add_argument("--retries", type=int, default=3)
    p.add_argument("--timeout", type=float, default=60.0, help="seconds per attempt")
    p.set_defaults(func=run_download)

    p = sub.add_parser("convert-tape", help=run_convert_tape.__doc__)
    p.add_argument("tape_dir", help="TAPE model directory (config.json + pytorch_model.bin)")
    p.add_argument("-o", "--output", required=True, help="converted model directory")
    p.set_defaults(func=run_convert_tape)

    p = sub.add_parser("models", help=run_models.__doc__)
    p.set_defaults(func=run_models)

    p = sub.add_parser("schemas", help=run_schemas.__doc__)
    p.add_argument("-o", "--output", help="Markdown file (default: standard output)")
    p.set_defaults(func=run_schemas)

    for name, verb in sub.choices.items():  # each verb's help: its description, defaults, one example
        verb.formatter_class = _HelpFormatter
        verb.description = verb.description or verb.get_default("func").__doc__
        if name in EXAMPLES and not verb.epilog:
            verb.epilog = f"example:\n  {EXAMPLES[name]}"
        for action in verb._actions:  # options without a help text still show their default
            if action.help is None and action.option_strings and action.default not in (None, False):
                action.help = "default: %(default)s"
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: run one verb; a PlmscopeError or an OS error becomes one line on stderr and exit code 1.

    OS errors on output paths are turned into PlmscopeErrors where they happen
    (:func:`plmscope.io.atomic_path`); any other ``OSError`` (an unreadable file, a full disk met
    by a library) is caught here as a last resort and printed as ``"<file>: <cause>"``.
    """
    args = build_parser().parse_args(argv)
    log_file = _setup_logging(args)
    func: Callable[[argparse.Namespace], None] = args.func
    try:
        with writing_for(args.verb):
            func(args)
    except PlmscopeError as exc:
        return _fail(args, log_file, str(exc))
    except OSError as exc:
        cause = " ".join(str(exc.strerror or exc).split()) or type(exc).__name__
        where = exc.filename if exc.filename is not None else None
        return _fail(args, log_file, f"{f'{where}: ' if where is not None else ''}{cause}")
    except BaseException:
        if log_file is not None:  # the traceback goes to the log too (Python prints it on stderr)
            logging.getLogger("plmscope").exception("plmscope %s: uncaught error", args.verb, extra={"console": False})
        raise
    return 0


def _fail(args: argparse.Namespace, log_file: logging.Handler | None, message: str) -> int:
    """Print ``plmscope VERB: error: message`` on stderr (and into the ``--log`` file); exit code 1."""
    line = f"plmscope {args.verb}: error: {message}"
    if log_file is not None:
        logging.getLogger("plmscope").error(line, extra={"console": False})
    print(line, file=sys.stderr)
    return 1


def _on_console(record: logging.LogRecord) -> bool:
    """With ``--log``: the console shows progress lines, warnings and errors (not those marked console=False)."""
    shown = getattr(record, "console", None)
    if shown is not None:
        return bool(shown)
    return record.name == "plmscope.progress" or record.levelno >= logging.WARNING


class _ConsoleFormatter(logging.Formatter):
    """Progress lines as they are; other lines (warnings, errors) prefixed with their level and job."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        from plmscope import progress

        if record.name != "plmscope.progress":
            record.message = f"{record.levelname} {progress.job_label()}: {record.message}"
        return super().formatMessage(record)


def _job_label(args: argparse.Namespace) -> str:
    """``"attention antiberty/demo"``: the verb and its output, without a leading ``results/<stage>/``."""
    output = getattr(args, "output", None)
    if not output:
        return f"plmscope {args.verb}"
    parts = Path(output).parts
    if len(parts) > 2 and parts[0] == "results":
        parts = parts[2:]
    return f"{args.verb} {'/'.join(parts)}"


def _setup_logging(args: argparse.Namespace) -> logging.Handler | None:
    """Everything to stderr; with ``--log FILE`` everything to FILE and progress, warnings, errors to stderr.

    Returns the file handler (None without ``--log``).
    """
    from plmscope import progress

    progress.set_job(_job_label(args))
    level = logging.DEBUG if args.verbose else logging.INFO
    full = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    console = logging.StreamHandler(sys.stderr)
    logging.captureWarnings(True)
    if args.log is None:
        console.setFormatter(full)
        logging.basicConfig(level=level, handlers=[console])
        return None
    try:
        Path(args.log).parent.mkdir(parents=True, exist_ok=True)
        log_file = logging.FileHandler(args.log, mode="w", encoding="utf-8")
    except OSError as exc:
        raise SystemExit(f"plmscope {args.verb}: error: --log {args.log}: {exc.strerror or exc}") from None
    log_file.setFormatter(full)
    console.setFormatter(_ConsoleFormatter("%(asctime)s %(message)s", datefmt="%H:%M:%S"))
    console.addFilter(_on_console)
    logging.basicConfig(level=level, handlers=[log_file, console])
    return log_file

if __name__ == "__main__":
    sys.exit(main())
