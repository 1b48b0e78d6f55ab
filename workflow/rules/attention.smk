# Attention stage: run a model over a protein table; keep only attention weights >= theta.


rule attention_extract:
    input:
        proteins="results/proteins/{dataset}.parquet",
    output:
        directory("results/attention/{model}/{dataset}"),
    log:
        "logs/attention_extract/{model}/{dataset}.log",
    params:
        plmscope=PLMSCOPE,
        source=get_model_source,
        theta=config["attention"]["theta"],
        max_residues=config["attention"]["max_residues"],
        max_tokens=config["attention"]["max_tokens"],
        long_sequences=config["attention"]["long_sequences"],
        device=config["attention"]["device"],
        dtype=config["attention"]["dtype"],
    conda:
        "../../envs/torch.yaml"
    threads: config["attention"]["threads"]
    resources:
        mem_mb=config["attention"]["mem_mb"],
        runtime=config["attention"]["runtime"],
        gpu=config["attention"]["gpus"],
    shell:
        "OMP_NUM_THREADS={threads} {params.plmscope} attention --proteins {input.proteins}"
        " --model {params.source} -o {output} --theta {params.theta}"
        " --max-residues {params.max_residues} --max-tokens {params.max_tokens}"
        " --long-sequences {params.long_sequences} --device {params.device}"
        " --dtype {params.dtype} > {log} 2>&1"
