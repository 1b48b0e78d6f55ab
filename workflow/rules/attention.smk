# Attention stage: run a model over a protein table; keep only attention weights >= theta.
# Also builds the model directories the workflow converts itself (BUILT_MODELS in common.smk).


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
        "{params.plmscope:q} --log {log:q} convert-tape {params.src:q} -o {output:q}"


rule attention_extract:
    input:
        proteins="results/proteins/{dataset}.parquet",
        model=get_model_input,
    output:
        directory("results/attention/{model}/{dataset}"),
    log:
        "logs/attention_extract/{model}/{dataset}.log",
    params:
        plmscope=PLMSCOPE,
        source=get_model_source,
        theta=config["attention"]["theta"],
        max_residues=config["attention"]["max_residues"],
        max_tokens=get_attention_setting("max_tokens"),
        long_sequences=config["attention"]["long_sequences"],
        window=get_optional_option("--window-stride", config["attention"]["window_stride"]),
        per_part=config["attention"]["proteins_per_part"],
        device=config["attention"]["device"],
        dtype=get_attention_setting("dtype"),
        semantics=lambda wildcards: get_semantics(wildcards.model),
        shard=[],
    conda:
        "../../envs/torch.yaml"
    threads: config["attention"]["threads"]
    resources:
        mem_mb=get_attention_setting("mem_mb"),
        runtime=get_attention_setting("runtime"),
        gpu=get_attention_setting("gpus"),
    shell:
        "OMP_NUM_THREADS={threads:q} {params.plmscope:q} --log {log:q} attention --proteins {input.proteins:q}"
        " --model {params.source:q} -o {output:q} --theta {params.theta:q}"
        " --max-residues {params.max_residues:q} --max-tokens {params.max_tokens:q}"
        " --long-sequences {params.long_sequences:q} {params.window:q}"
        " --proteins-per-part {params.per_part:q} --device {params.device:q}"
        " --dtype {params.dtype:q} --semantics {params.semantics:q} {params.shard:q}"


# One of `attention.shards` jobs over a dataset (proteins i with i % shards == shard); the enrichment sums them.
use rule attention_extract as attention_extract_shard with:
    output:
        directory("results/attention_shards/{model}/{dataset}/{shard}"),
    log:
        "logs/attention_extract/{model}/{dataset}/shard-{shard}.log",
    params:
        plmscope=PLMSCOPE,
        source=get_model_source,
        theta=config["attention"]["theta"],
        max_residues=config["attention"]["max_residues"],
        max_tokens=get_attention_setting("max_tokens"),
        long_sequences=config["attention"]["long_sequences"],
        window=get_optional_option("--window-stride", config["attention"]["window_stride"]),
        per_part=config["attention"]["proteins_per_part"],
        device=config["attention"]["device"],
        dtype=get_attention_setting("dtype"),
        semantics=lambda wildcards: get_semantics(wildcards.model),
        shard=lambda wc: ["--shard", f"{wc.shard}/{get_shards(wc.model)}"],
