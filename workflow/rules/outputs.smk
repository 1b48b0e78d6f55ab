# Outputs stage: results/README.md, the description of every output table, generated from plmscope's schema registry.


rule outputs_readme:
    output:
        "results/README.md",
    log:
        "logs/outputs_readme/outputs_readme.log",
    params:
        plmscope=PLMSCOPE,
    conda:
        "../../envs/analysis.yaml"
    priority: 50
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    shell:
        "{params.plmscope:q} --log {log:q} schemas -o {output:q}"
