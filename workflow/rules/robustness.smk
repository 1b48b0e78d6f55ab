# Robustness stage (beyond the paper): null models and robustness of the enrichment.


rule robustness_null_models:
    input:
        proteins="results/proteins/{dataset}.parquet",
        model=get_model_input,  # the converted TAPE BERT directory, when the model is built by this workflow
    output:
        report(
            directory("results/robustness/{model}/{dataset}"),
            patterns=["{name}.png"],
            caption="../report/null_models.rst",
            category=REPORT_CATEGORIES["robustness"],
            subcategory="Null models and robustness",
            labels={"model": "{model}", "dataset": "{dataset}", "figure": "{name}"},
        ),
    log:
        "logs/robustness_null_models/{model}/{dataset}.log",
    params:
        plmscope=PLMSCOPE,
        source=get_model_source,
        theta=config["attention"]["theta"],
        thresholds=config["robustness"]["thresholds"],
        top_k=config["robustness"]["top_k"],
        seed=config["robustness"]["seed"],
        random_std=get_optional_option("--random-std", config["robustness"]["random_std"]),
        n_boot=config["robustness"]["n_boot"],
        long_sequences=config["robustness"]["long_sequences"],
        min_count=config["enrichment"]["min_count"],
        alpha=config["enrichment"]["alpha"],
        cutoff=config["enrichment"]["contact_cutoff"],
        min_sep=config["enrichment"]["contact_min_separation"],
        max_residues=config["attention"]["max_residues"],
        max_tokens=config["attention"]["max_tokens"],
        device=config["attention"]["device"],
        dtype=config["attention"]["dtype"],
    conda:
        "../../envs/torch.yaml"
    threads: config["robustness"]["threads"]
    resources:
        mem_mb=config["robustness"]["mem_mb"],
        runtime=config["robustness"]["runtime"],
        gpu=config["attention"]["gpus"],
    shell:
        "OMP_NUM_THREADS={threads:q} {params.plmscope:q} --log {log:q} robustness --proteins {input.proteins:q}"
        " --model {params.source:q} -o {output:q} --theta {params.theta:q}"
        " --thresholds {params.thresholds:q} --top-k {params.top_k:q} --seed {params.seed:q}"
        " {params.random_std:q} --n-boot {params.n_boot:q} --min-count {params.min_count:q}"
        " --alpha {params.alpha:q} --contact-cutoff {params.cutoff:q}"
        " --contact-min-separation {params.min_sep:q} --max-residues {params.max_residues:q}"
        " --max-tokens {params.max_tokens:q} --long-sequences {params.long_sequences:q}"
        " --device {params.device:q} --dtype {params.dtype:q}"
