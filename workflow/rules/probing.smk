# Probing stage: linear probes on frozen embeddings and attention (Vig et al. 2021, Sec. 5, Fig. 8).


rule probing_run:
    input:
        unpack(get_probing_inputs),
    output:
        report(
            directory("results/probing/{model}/{dataset}"),
            patterns=["{name}.png"],
            caption="../report/paper_probing.rst",
            category=REPORT_CATEGORIES["robustness"],
            subcategory="Probing",
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
        semantics=get_probing_semantics,
        max_epochs=get_probing_option("max_epochs", "--max-epochs"),
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
        "OMP_NUM_THREADS={threads:q} {params.plmscope:q} --log {log:q} probe --proteins {input.proteins:q}"
        " --model {params.source:q} -o {output:q} {params.validation:q} --seed {params.seed:q}"
        " {params.max_pairs:q} {params.max_train_residues:q} --C {params.C:q} --max-iter {params.max_iter:q}"
        " --max-tokens {params.max_tokens:q} {params.layers_per_pass:q}"
        " --semantics {params.semantics:q} {params.max_epochs:q}"
        " --contact-cutoff {params.cutoff:q} --contact-min-separation {params.min_sep:q}"
        " --max-residues {params.max_residues:q} --device {params.device:q} --dtype {params.dtype:q}"
        " --threads {threads:q}"
