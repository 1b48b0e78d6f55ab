# Enrichment stage: attention enrichment for contacts, binding sites, PTMs, secondary structure, amino acids.


rule enrichment_compute:
    input:
        attention=get_attention_dirs,
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
        background=get_background_option,
        semantics=lambda wildcards: get_semantics(wildcards.model),
    conda:
        "../../envs/analysis.yaml"
    priority: 30
    threads: 1
    resources:
        mem_mb=8000,
        runtime=60,
    shell:
        "{params.plmscope:q} --log {log:q} enrichment --attention {input.attention:q} --proteins {input.proteins:q}"
        " -o {output:q} --min-count {params.min_count:q} --alpha {params.alpha:q}"
        " --top-k {params.top_k:q} --contact-cutoff {params.cutoff:q}"
        " --contact-min-separation {params.min_sep:q} {params.background:q} --semantics {params.semantics:q}"


# The same enrichment under a chosen semantics (the paper comparison shows both).
use rule enrichment_compute as enrichment_semantics with:
    output:
        directory("results/enrichment_{semantics}/{model}/{dataset}"),
    log:
        "logs/enrichment_semantics/{semantics}/{model}/{dataset}.log",
    params:
        plmscope=PLMSCOPE,
        min_count=config["enrichment"]["min_count"],
        alpha=config["enrichment"]["alpha"],
        top_k=config["enrichment"]["top_k"],
        cutoff=config["enrichment"]["contact_cutoff"],
        min_sep=config["enrichment"]["contact_min_separation"],
        background=get_background_option,
        semantics=lambda wildcards: wildcards.semantics,
