# The `paper` target: Vig et al. (ICLR 2021) for the paper's models and ESM-2, on the paper's data
# (config `paper:`), downloaded by download.smk. Run it on GPUs: `snakemake --cores N paper`
# or `snakemake --profile profiles/slurm paper`.

# Model directories built by this workflow (TAPE BERT converted from TAPE's own weights).
BUILT_MODELS = {"resources/models/tape_bert"}


rule model_convert_tape:
    input:
        config=DOWNLOAD_TARGETS["tape_bert_base_config"],
        weights=DOWNLOAD_TARGETS["tape_bert_base_weights"],
    output:
        directory("resources/models/tape_bert"),
    log:
        "logs/model_convert_tape/tape_bert.log",
    params:
        plmscope=PLMSCOPE,
        src=lambda wc, input: str(Path(input.config).parent),
    conda:
        "../../envs/torch.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    shell:
        "{params.plmscope} convert-tape {params.src} -o {output} > {log} 2>&1"


rule paper:
    input:
        get_paper_output(),
