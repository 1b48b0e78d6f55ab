# Figures stage: heatmaps and top-head charts for every feature (PNG and SVG), and 3D attention views.


rule figures_enrichment:
    input:
        "results/enrichment/{model}/{dataset}",
    output:
        report(
            directory("results/figures/{model}/{dataset}"),
            patterns=["{name}.png"],
            caption="../report/enrichment_figures.rst",
            category=get_figure_category,
            subcategory="Attention enrichment",
            labels={"model": "{model}", "dataset": "{dataset}", "figure": "{name}"},
        ),
    log:
        "logs/figures_enrichment/{model}/{dataset}.log",
    params:
        plmscope=PLMSCOPE,
    conda:
        "../../envs/analysis.yaml"
    priority: 30
    threads: 1
    resources:
        mem_mb=2000,
        runtime=20,
    shell:
        "{params.plmscope:q} --log {log:q} figures --enrichment {input:q} -o {output:q}"


rule figures_view3d:
    input:
        proteins="results/proteins/{dataset}.parquet",
        attention=lambda wildcards: get_attention_dirs(wildcards)[0],  # with shards: the first shard's proteins
        enrichment="results/enrichment/{model}/{dataset}",
    output:
        report(
            directory("results/views/{model}/{dataset}"),
            htmlindex="index.html",
            caption="../report/view3d.rst",
            category=REPORT_CATEGORIES["views"],
            subcategory="3D attention views",
            labels={"model": "{model}", "dataset": "{dataset}"},
        ),
    log:
        "logs/figures_view3d/{model}/{dataset}.log",
    params:
        plmscope=PLMSCOPE,
        feature=config["views"]["feature"],
        max_proteins=config["views"]["max_proteins"],
    conda:
        "../../envs/analysis.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=20,
    shell:
        "{params.plmscope:q} --log {log:q} view --proteins {input.proteins:q} --attention {input.attention:q}"
        " --top-heads {input.enrichment:q} --feature {params.feature:q}"
        " --max-proteins {params.max_proteins:q} -o {output:q}"


# Sequence-level attention views: one offline HTML page per protein (no structure needed) + index.html.
rule figures_seqview:
    input:
        proteins="results/proteins/{dataset}.parquet",
        attention="results/attention/{model}/{dataset}",
    output:
        report(
            directory("results/seqviews/{model}/{dataset}"),
            htmlindex="index.html",
            caption="../report/seqview.rst",
            category=REPORT_CATEGORIES["views"],
            subcategory="Sequence attention views",
            labels={"model": "{model}", "dataset": "{dataset}"},
        ),
    log:
        "logs/figures_seqview/{model}/{dataset}.log",
    params:
        plmscope=PLMSCOPE,
        max_proteins=get_optional_option("--max-proteins", config["sequence_views"]["max_proteins"]),
    conda:
        "../../envs/analysis.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=20,
    shell:
        "{params.plmscope:q} --log {log:q} seqview --proteins {input.proteins:q} --attention {input.attention:q}"
        " {params.max_proteins:q} -o {output:q}"
