# Attention stage: run a model over a protein table; keep only attention weights >= theta.


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
        window=lambda wc: (
            ""
            if config["attention"]["window_stride"] is None
            else f"--window-stride {config['attention']['window_stride']}"
        ),
        per_part=config["attention"]["proteins_per_part"],
        device=config["attention"]["device"],
        dtype=get_attention_setting("dtype"),
    conda:
        "../../envs/torch.yaml"
    threads: config["attention"]["threads"]
    resources:
        mem_mb=get_attention_setting("mem_mb"),
        runtime=get_attention_setting("runtime"),
        gpu=get_attention_setting("gpus"),
    shell:
        "OMP_NUM_THREADS={threads} {params.plmscope} attention --proteins {input.proteins}"
        " --model {params.source} -o {output} --theta {params.theta}"
        " --max-residues {params.max_residues} --max-tokens {params.max_tokens}"
        " --long-sequences {params.long_sequences} {params.window} --proteins-per-part {params.per_part}"
        " --device {params.device}"
        " --dtype {params.dtype} > {log} 2>&1"
