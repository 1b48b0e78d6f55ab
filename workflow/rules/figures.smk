# Figures stage: heatmaps and top-head charts for every feature (PNG and SVG).


rule figures_enrichment:
    input:
        "results/enrichment/{model}/{dataset}",
    output:
        report(
            directory("results/figures/{model}/{dataset}"),
            patterns=["{name}.png"],
            caption="../report/enrichment_figures.rst",
            category="Attention enrichment",
            labels={"model": "{model}", "dataset": "{dataset}", "figure": "{name}"},
        ),
    log:
        "logs/figures_enrichment/{model}/{dataset}.log",
    params:
        plmscope=PLMSCOPE,
    conda:
        "../../envs/analysis.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=20,
    shell:
        "{params.plmscope} figures --enrichment {input} -o {output} > {log} 2>&1"
