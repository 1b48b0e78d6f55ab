# Beyond the paper: contact prediction from attention (Rao et al. 2020), null models and robustness of the enrichment.


rule contacts_predict:
    input:
        proteins="results/proteins/{dataset}.parquet",
    output:
        report(
            directory("results/contacts/{model}/{dataset}"),
            patterns=["{name}.png"],
            caption="../report/contact_prediction.rst",
            category="Contact prediction",
            labels={"model": "{model}", "dataset": "{dataset}", "figure": "{name}"},
        ),
    log:
        "logs/contacts_predict/{model}/{dataset}.log",
    params:
        plmscope=PLMSCOPE,
        source=get_model_source,
        train_proteins=config["contacts"]["train_proteins"],
        seed=config["contacts"]["seed"],
        C=config["contacts"]["C"],
        solver=config["contacts"]["solver"],
        cutoff=config["contacts"]["contact_cutoff"],
        select_range=config["contacts"]["select_range"],
        n_maps=config["contacts"]["n_maps"],
        long_sequences=config["contacts"]["long_sequences"],
        max_residues=config["attention"]["max_residues"],
        device=config["attention"]["device"],
        dtype=config["attention"]["dtype"],
    conda:
        "../../envs/torch.yaml"
    threads: config["contacts"]["threads"]
    resources:
        mem_mb=config["contacts"]["mem_mb"],
        runtime=config["contacts"]["runtime"],
        gpu=config["attention"]["gpus"],
    shell:
        "OMP_NUM_THREADS={threads} {params.plmscope} contacts --proteins {input.proteins}"
        " --model {params.source} -o {output} --train-proteins {params.train_proteins}"
        " --seed {params.seed} --C {params.C} --solver {params.solver}"
        " --contact-cutoff {params.cutoff} --select-range {params.select_range}"
        " --n-maps {params.n_maps} --max-residues {params.max_residues}"
        " --long-sequences {params.long_sequences} --device {params.device}"
        " --dtype {params.dtype} > {log} 2>&1"


rule robustness_null_models:
    input:
        proteins="results/proteins/{dataset}.parquet",
    output:
        report(
            directory("results/robustness/{model}/{dataset}"),
            patterns=["{name}.png"],
            caption="../report/null_models.rst",
            category="Null models and robustness",
            labels={"model": "{model}", "dataset": "{dataset}", "figure": "{name}"},
        ),
    log:
        "logs/robustness_null_models/{model}/{dataset}.log",
    params:
        plmscope=PLMSCOPE,
        source=get_model_source,
        theta=config["attention"]["theta"],
        thresholds=" ".join(str(t) for t in config["robustness"]["thresholds"]),
        top_k=config["robustness"]["top_k"],
        seed=config["robustness"]["seed"],
        random_std=lambda wildcards: (
            ""
            if config["robustness"]["random_std"] is None
            else f"--random-std {config['robustness']['random_std']}"
        ),
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
        "OMP_NUM_THREADS={threads} {params.plmscope} robustness --proteins {input.proteins}"
        " --model {params.source} -o {output} --theta {params.theta}"
        " --thresholds {params.thresholds} --top-k {params.top_k} --seed {params.seed}"
        " {params.random_std} --n-boot {params.n_boot} --min-count {params.min_count}"
        " --alpha {params.alpha} --contact-cutoff {params.cutoff}"
        " --contact-min-separation {params.min_sep} --max-residues {params.max_residues}"
        " --max-tokens {params.max_tokens} --long-sequences {params.long_sequences}"
        " --device {params.device} --dtype {params.dtype} > {log} 2>&1"
