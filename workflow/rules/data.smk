# Data stage: parse each configured dataset into one protein table.


rule data_prepare:
    input:
        get_dataset_inputs,
    output:
        "results/proteins/{dataset}.parquet",
    log:
        "logs/data_prepare/{dataset}.log",
    params:
        plmscope=PLMSCOPE,
        paths=get_dataset_paths,
        fmt=get_dataset_format,
        dssp=get_dssp_option,
        sample=get_sample_option,
    conda:
        "../../envs/data.yaml"
    priority: 40
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    shell:
        "{params.plmscope:q} --log {log:q} prepare --format {params.fmt:q} {params.dssp:q} {params.sample:q} {params.paths:q}"
        " -o {output:q}"


# The whole split of a sampled dataset, for background frequencies (the paper's definition).
rule data_prepare_full:
    input:
        get_dataset_inputs,
    output:
        "results/proteins_full/{dataset}.parquet",
    log:
        "logs/data_prepare_full/{dataset}.log",
    params:
        plmscope=PLMSCOPE,
        paths=get_dataset_paths,
        fmt=get_dataset_format,
        dssp=get_dssp_option,
    conda:
        "../../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=16000,
        runtime=60,
    shell:
        "{params.plmscope:q} --log {log:q} prepare --format {params.fmt:q} {params.dssp:q} {params.paths:q}"
        " -o {output:q}"


# What each protein table supports (coordinates, labels): the default target reads the plan and
# requests only the analyses the dataset can feed; the Markdown page names the skipped ones.
checkpoint data_plan:
    input:
        "results/proteins/{dataset}.parquet",
    output:
        json="results/proteins/{dataset}.plan.json",
        md=report(
            "results/plan/{dataset}.md",
            caption="../report/plan.rst",
            category=REPORT_CATEGORIES["views"],
            subcategory="Analysis plan",
            labels={"dataset": "{dataset}"},
        ),
    log:
        "logs/data_plan/{dataset}.log",
    params:
        plmscope=PLMSCOPE,
        train_proteins=config["contacts"]["train_proteins"],
        cutoff=config["contacts"]["contact_cutoff"],
        valid=["--valid-dataset"] if config["probing"].get("valid_dataset") else [],
        inactive=get_plan_inactive(),
    conda:
        "../../envs/data.yaml"
    priority: 40
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    shell:
        "{params.plmscope:q} --log {log:q} plan --proteins {input:q} --dataset {wildcards.dataset:q} -o {output.json:q}"
        " --markdown {output.md:q} --contacts-train-proteins {params.train_proteins:q}"
        " --contact-cutoff {params.cutoff:q} {params.valid:q}"
        " --inactive {params.inactive:q}"
