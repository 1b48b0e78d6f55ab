# Contacts stage (beyond the paper): contact prediction from attention (Rao et al. 2020).


rule contacts_predict:
    input:
        proteins="results/proteins/{dataset}.parquet",
        model=get_model_input,  # the converted TAPE BERT directory, when the model is built by this workflow
    output:
        report(
            directory("results/contacts/{model}/{dataset}"),
            patterns=["{name}.png", "{name}.csv"],
            caption="../report/contact_prediction.rst",
            category=REPORT_CATEGORIES["contact"],
            subcategory="Contact prediction",
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
        "OMP_NUM_THREADS={threads:q} {params.plmscope:q} --log {log:q} contacts --proteins {input.proteins:q}"
        " --model {params.source:q} -o {output:q} --train-proteins {params.train_proteins:q}"
        " --seed {params.seed:q} --C {params.C:q} --solver {params.solver:q}"
        " --contact-cutoff {params.cutoff:q} --select-range {params.select_range:q}"
        " --n-maps {params.n_maps:q} --max-residues {params.max_residues:q}"
        " --long-sequences {params.long_sequences:q} --device {params.device:q}"
        " --dtype {params.dtype:q}"


# Contact maps for any sequence: the regression `contacts_predict` fitted on the structured dataset
# (contact_maps.train_dataset) applied to every protein of a dataset, with or without structures.
rule contacts_maps:
    input:
        proteins="results/proteins/{dataset}.parquet",
        regression=get_contact_regression_input,
        model=get_model_input,  # the converted TAPE BERT directory, when the model is built by this workflow
    output:
        report(
            directory("results/contact_maps/{model}/{dataset}"),
            patterns=["{name}.png"],
            caption="../report/contact_maps.rst",
            category=REPORT_CATEGORIES["contact"],
            subcategory="Contact maps",
            labels={"model": "{model}", "dataset": "{dataset}", "figure": "{name}"},
        ),
    log:
        "logs/contacts_maps/{model}/{dataset}.log",
    params:
        plmscope=PLMSCOPE,
        source=get_model_source,
        max_residues=config["attention"]["max_residues"],
        long_sequences=config["contacts"]["long_sequences"],
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
        "OMP_NUM_THREADS={threads:q} {params.plmscope:q} --log {log:q} contact-maps --proteins {input.proteins:q}"
        " --model {params.source:q} --regression {input.regression:q} -o {output:q}"
        " --max-residues {params.max_residues:q} --long-sequences {params.long_sequences:q}"
        " --device {params.device:q} --dtype {params.dtype:q}"
