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


# The report's front page: headline numbers of whatever this run produced (the sections of stages that
# are off say so). `snakemake --report` shows it first (category "1. Summary"), with its tables as tables.
rule report_summary:
    input:
        unpack(get_summary_inputs),
    output:
        report(
            directory("results/summary"),
            patterns=["{name}.html", "{name}.csv"],
            caption="../report/summary.rst",
            category=REPORT_CATEGORIES["summary"],
            labels={"file": "{name}"},
        ),
    log:
        "logs/report_summary/summary.log",
    params:
        plmscope=PLMSCOPE,
        notes=get_summary_notes,
    conda:
        "../../envs/analysis.yaml"
    priority: 20
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    shell:
        "{params.plmscope:q} --log {log:q} summary --enrichment {input.enrichment:q} --contacts {input.contacts:q}"
        " --epistasis {input.epistasis:q} {params.notes:q} -o {output:q}"
