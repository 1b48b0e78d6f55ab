# Vig et al. (2021) analyses beyond per-head enrichment: cross-layer center of gravity, amino-acid
# similarity vs BLOSUM62, linear probes (Fig. 8), and our results beside the paper's numbers.


rule analysis_paper:
    input:
        "results/enrichment/{model}/{dataset}",
    output:
        report(
            directory("results/paper_analyses/{model}/{dataset}"),
            patterns=["{name}.png"],
            caption="../report/paper_analyses.rst",
            category="Paper analyses",
            labels={"model": "{model}", "dataset": "{dataset}", "figure": "{name}"},
        ),
    log:
        "logs/analysis_paper/{model}/{dataset}.log",
    params:
        plmscope=PLMSCOPE,
    conda:
        "../../envs/analysis.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=20,
    shell:
        "{params.plmscope} paper --enrichment {input} -o {output} --label {wildcards.model}"
        " --dataset {wildcards.dataset} > {log} 2>&1"


rule probing_run:
    input:
        unpack(get_probing_inputs),
    output:
        report(
            directory("results/probing/{model}/{dataset}"),
            patterns=["{name}.png"],
            caption="../report/paper_probing.rst",
            category="Probing",
            labels={"model": "{model}", "dataset": "{dataset}", "figure": "{name}"},
        ),
    log:
        "logs/probing_run/{model}/{dataset}.log",
    params:
        plmscope=PLMSCOPE,
        source=get_model_source,
        validation=get_probing_validation_option,
        seed=config["probing"]["seed"],
        max_pairs=get_probing_option("max_pairs_per_protein", "--max-pairs-per-protein"),
        max_train_residues=get_probing_option("max_residues_per_protein", "--max-residues-per-protein"),
        C=config["probing"]["C"],
        max_iter=config["probing"]["max_iter"],
        max_tokens=config["probing"]["max_tokens"],
        layers_per_pass=get_probing_option("layers_per_pass", "--layers-per-pass"),
        cutoff=config["enrichment"]["contact_cutoff"],
        min_sep=config["enrichment"]["contact_min_separation"],
        max_residues=get_attention_setting("max_residues"),
        device=get_attention_setting("device"),
        dtype=get_attention_setting("dtype"),
    conda:
        "../../envs/torch.yaml"
    threads: config["probing"]["threads"]
    resources:
        mem_mb=config["probing"]["mem_mb"],
        runtime=config["probing"]["runtime"],
        gpu=get_attention_setting("gpus"),
    shell:
        "OMP_NUM_THREADS={threads} {params.plmscope} probe --proteins {input.proteins}"
        " --model {params.source} -o {output} {params.validation} --seed {params.seed}"
        " {params.max_pairs} {params.max_train_residues} --C {params.C} --max-iter {params.max_iter}"
        " --max-tokens {params.max_tokens} {params.layers_per_pass}"
        " --contact-cutoff {params.cutoff} --contact-min-separation {params.min_sep}"
        " --max-residues {params.max_residues} --device {params.device} --dtype {params.dtype}"
        " --threads {threads} > {log} 2>&1"


rule analysis_comparison:
    input:
        enrichment=expand("results/enrichment/{model}/{dataset}", model=MODELS, dataset=DATASETS),
        analyses=get_paper_analyses_output(MODELS, DATASETS),
        paper_heads=PAPER_VALUES_DIR / "vig2021_top_heads.csv",
        paper_blosum=PAPER_VALUES_DIR / "vig2021_blosum.csv",
    output:
        csv=report(
            "results/comparison/comparison.csv",
            caption="../report/paper_comparison.rst",
            category="Comparison with Vig et al. (2021)",
            labels={"table": "configured models"},
        ),
        md="results/comparison/comparison.md",
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
        "{params.plmscope} compare --enrichment {input.enrichment} --paper-analyses {input.analyses}"
        " --paper-heads {input.paper_heads} --paper-blosum {input.paper_blosum}"
        " -o {output.csv} --markdown {output.md} > {log} 2>&1"


rule paper_comparison:
    input:
        enrichment=expand(
            "results/enrichment/{model}/{dataset}", model=PAPER_MODELS, dataset=get_comparison_datasets()
        ),
        analyses=get_paper_analyses_output(PAPER_MODELS, get_comparison_datasets()),
        paper_heads=PAPER_VALUES_DIR / "vig2021_top_heads.csv",
        paper_blosum=PAPER_VALUES_DIR / "vig2021_blosum.csv",
    output:
        csv=report(
            "results/paper/comparison.csv",
            caption="../report/paper_comparison.rst",
            category="Comparison with Vig et al. (2021)",
            labels={"table": "paper models"},
        ),
        md="results/paper/comparison.md",
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
        "{params.plmscope} compare --enrichment {input.enrichment} --paper-analyses {input.analyses}"
        " --paper-heads {input.paper_heads} --paper-blosum {input.paper_blosum}"
        " {params.feature_datasets} -o {output.csv} --markdown {output.md} > {log} 2>&1"
