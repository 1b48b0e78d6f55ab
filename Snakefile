# plmscope: attention in protein language models vs. protein structure, and higher-order interactions.
# Run `snakemake --cores N` (default target: every configured analysis), see README.md.
from snakemake.utils import min_version

min_version("8.0")


configfile: "config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/downloads.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/attention.smk"
include: "workflow/rules/enrichment.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/contacts.smk"
include: "workflow/rules/robustness.smk"
include: "workflow/rules/probing.smk"
include: "workflow/rules/paper.smk"
include: "workflow/rules/epistasis.smk"
include: "workflow/rules/outputs.smk"


rule all:
    input:
        get_final_output(),
        get_planned_output,
    default_target: True


onsuccess:
    print(
        "\nplmscope: done. Results are in results/ (results/README.md describes every table and its columns).\n"
        "Build the report to share: snakemake --report report.zip  (then open report/report.html)."
    )
