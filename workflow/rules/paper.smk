# Paper stage: Vig et al. (ICLR 2021) analyses beyond per-head enrichment (cross-layer center of
# gravity, amino-acid similarity vs BLOSUM62), our results beside the paper's numbers, and the `paper`
# target: the paper's models and ESM-2 on the paper's data (config `paper:`, downloaded by
# downloads.smk). Run it on GPUs: `snakemake --cores N paper` or `snakemake --profile profiles/slurm paper`.


rule analysis_paper:
    input:
        "results/enrichment/{model}/{dataset}",
    output:
        report(
            directory("results/paper_analyses/{model}/{dataset}"),
            patterns=["{name}.png"],
            caption="../report/paper_analyses.rst",
            category=REPORT_CATEGORIES["paper"],
            subcategory="Paper analyses",
            labels={"model": "{model}", "dataset": "{dataset}", "figure": "{name}"},
        ),
    log:
        "logs/analysis_paper/{model}/{dataset}.log",
    params:
        plmscope=PLMSCOPE,
        semantics=lambda wildcards: get_semantics(wildcards.model),
    conda:
        "../../envs/analysis.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=20,
    shell:
        "{params.plmscope:q} --log {log:q} paper --enrichment {input:q} -o {output:q} --label {wildcards.model:q}"
        " --dataset {wildcards.dataset:q} --semantics {params.semantics:q}"


rule analysis_comparison:
    input:
        enrichment=expand("results/enrichment/{model}/{dataset}", model=MODELS, dataset=DATASETS),
        analyses=get_paper_analyses_output(MODELS, DATASETS),
        probing=get_planned_probing_output,  # as the paper target: the probes beside the comparison
        paper_heads=PAPER_VALUES_DIR / "vig2021_top_heads.csv",
        paper_blosum=PAPER_VALUES_DIR / "vig2021_blosum.csv",
    output:
        csv=report(
            "results/comparison/comparison.csv",
            caption="../report/paper_comparison.rst",
            category=REPORT_CATEGORIES["paper"],
            subcategory="Comparison",
            labels={"table": "configured models"},
        ),
        md="results/comparison/comparison.md",
        probing="results/comparison/probing_comparison.csv",
    log:
        "logs/analysis_comparison/comparison.log",
    params:
        plmscope=PLMSCOPE,
    conda:
        "../../envs/analysis.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    shell:
        "{params.plmscope:q} --log {log:q} compare --enrichment {input.enrichment:q} --paper-analyses {input.analyses:q}"
        " --paper-heads {input.paper_heads:q} --paper-blosum {input.paper_blosum:q} --probing {input.probing:q}"
        " -o {output.csv:q} --markdown {output.md:q}"


rule paper_comparison:
    input:
        enrichment=expand(
            "results/enrichment/{model}/{dataset}", model=PAPER_MODELS, dataset=get_comparison_datasets()
        ),
        analyses=get_paper_analyses_output(PAPER_MODELS, get_comparison_datasets()),
        probing=get_probing_output(PAPER_MODELS, get_paper_probing_datasets()),
        alternate=get_alternate_enrichment(PAPER_MODELS, get_comparison_datasets()),
        paper_heads=PAPER_VALUES_DIR / "vig2021_top_heads.csv",
        paper_blosum=PAPER_VALUES_DIR / "vig2021_blosum.csv",
    output:
        csv=report(
            "results/paper/comparison.csv",
            caption="../report/paper_comparison.rst",
            category=REPORT_CATEGORIES["paper"],
            subcategory="Comparison",
            labels={"table": "paper models"},
        ),
        md="results/paper/comparison.md",
        probing="results/paper/probing_comparison.csv",
    log:
        "logs/paper_comparison/comparison.log",
    params:
        plmscope=PLMSCOPE,
        feature_datasets=get_feature_dataset_options(),
    conda:
        "../../envs/analysis.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=10,
    shell:
        "{params.plmscope:q} --log {log:q} compare --enrichment {input.enrichment:q} --paper-analyses {input.analyses:q}"
        " --paper-heads {input.paper_heads:q} --paper-blosum {input.paper_blosum:q}"
        " --enrichment-alternate {input.alternate:q} {params.feature_datasets:q} --probing {input.probing:q}"
        " -o {output.csv:q} --markdown {output.md:q}"


rule paper:
    input:
        get_paper_output(),
