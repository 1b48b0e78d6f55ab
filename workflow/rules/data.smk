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
        fmt=lambda wc: config["datasets"][wc.dataset]["format"],
        dssp=lambda wc: "--dssp" if config["datasets"][wc.dataset].get("dssp", False) else "",
        sample=get_sample_option,
    conda:
        "../../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    shell:
        "{params.plmscope} prepare --format {params.fmt} {params.dssp} {params.sample} {input} -o {output} > {log} 2>&1"
