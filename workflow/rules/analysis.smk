# Analysis stage: attention enrichment for contacts, binding sites, PTMs, secondary structure, amino acids.


rule enrichment_compute:
    input:
        attention="results/attention/{model}/{dataset}",
        proteins="results/proteins/{dataset}.parquet",
        background=get_background_input,
    output:
        directory("results/enrichment/{model}/{dataset}"),
    log:
        "logs/enrichment_compute/{model}/{dataset}.log",
    params:
        plmscope=PLMSCOPE,
        min_count=config["enrichment"]["min_count"],
        alpha=config["enrichment"]["alpha"],
        top_k=config["enrichment"]["top_k"],
        cutoff=config["enrichment"]["contact_cutoff"],
        min_sep=config["enrichment"]["contact_min_separation"],
        background=lambda wc, input: f"--background-proteins {input.background}" if input.background else "",
    conda:
        "../../envs/analysis.yaml"
    threads: 1
    resources:
        mem_mb=8000,
        runtime=60,
    shell:
        "{params.plmscope} enrichment --attention {input.attention} --proteins {input.proteins}"
        " -o {output} --min-count {params.min_count} --alpha {params.alpha}"
        " --top-k {params.top_k} --contact-cutoff {params.cutoff}"
        " --contact-min-separation {params.min_sep} {params.background} > {log} 2>&1"
