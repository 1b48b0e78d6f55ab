# Epistasis stage (higher-order interactions): sparse Fourier spectra of masked-LM variant scores over
# chosen sites (config `epistasis:`; the get_epistasis_* input functions live in common.smk).
# `snakemake --cores N epistasis` runs every configured landscape on the CPU in minutes;
# `snakemake --cores N epistasis_paper` is the GB1 / ESM-2 3B setup of Tsui & Aghazadeh (2024),
# about 7 million ESM-2 3B forward passes per site set: run it on a GPU.


rule epistasis_recover:
    input:
        get_epistasis_inputs,
    output:
        report(
            directory("results/epistasis/{landscape}"),
            patterns=["{name}.png"],
            caption="../report/epistasis_recover.rst",
            category=REPORT_CATEGORIES["epistasis"],
            subcategory="Higher-order interactions",
            labels={"landscape": "{landscape}", "figure": "{name}"},
        ),
    log:
        "logs/epistasis_recover/{landscape}.log",
    params:
        plmscope=PLMSCOPE,
        spec=get_epistasis_spec,
        cache_dir=config["epistasis"]["cache_dir"],
    conda:
        "../../envs/torch.yaml"
    threads: get_epistasis_resource("threads")
    resources:
        mem_mb=get_epistasis_resource("mem_mb"),
        runtime=get_epistasis_resource("runtime"),
        gpu=get_epistasis_resource("gpus"),
    shell:
        "OMP_NUM_THREADS={threads:q} {params.plmscope:q} --log {log:q} epistasis --spec {params.spec:q}"
        " --landscape {wildcards.landscape:q} --cache-dir {params.cache_dir:q} -o {output:q}"
        " --no-progress"


rule epistasis:
    input:
        expand("results/epistasis/{landscape}", landscape=EPISTASIS_LANDSCAPES),


rule epistasis_paper:
    input:
        expand("results/epistasis/{landscape}", landscape=EPISTASIS_PAPER),
