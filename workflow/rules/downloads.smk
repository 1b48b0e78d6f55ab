# Downloads stage: the paper's datasets and weights (resources/downloads.yaml), checked, retried, cached.
# Every manifest entry becomes one output under the download cache (config downloads: cache_dir:):
# a file (download_file), an LMDB directory (download_lmdb) or an unpacked archive (download_extract).
# The DOWNLOAD_* tables live in common.smk. `snakemake download_all` fetches everything, e.g. on a
# login node before a cluster run.


# Compute nodes of clusters often have no internet: fetch on the submitting host.
localrules:
    download_file,
    download_lmdb,
    download_all,


rule download_file:
    output:
        f"{DOWNLOAD_CACHE}/{{file}}",
    log:
        "logs/download_file/{file}.log",
    wildcard_constraints:
        file=DOWNLOAD_PATTERNS["file"],
    params:
        plmscope=PLMSCOPE,
        manifest=str(DOWNLOAD_MANIFEST),
        url=lambda wc: DOWNLOAD_FILES[wc.file]["url"],
        sha256=lambda wc: DOWNLOAD_FILES[wc.file].get("sha256") or "",
        md5=lambda wc: DOWNLOAD_FILES[wc.file].get("md5") or "",
    cache: True
    retries: 2
    conda:
        "../../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=500,
        runtime=240,
    shell:
        "{params.plmscope:q} --log {log:q} download --manifest {params.manifest:q} --url {params.url:q}"
        " --sha256={params.sha256:q} --md5={params.md5:q}"
        " -o {output:q}"


rule download_lmdb:
    output:
        directory(f"{DOWNLOAD_CACHE}/{{lmdb}}"),
    log:
        "logs/download_lmdb/{lmdb}.log",
    wildcard_constraints:
        lmdb=DOWNLOAD_PATTERNS["lmdb"],
    params:
        plmscope=PLMSCOPE,
        manifest=str(DOWNLOAD_MANIFEST),
        url=lambda wc: DOWNLOAD_LMDBS[wc.lmdb]["url"],
        sha256=lambda wc: DOWNLOAD_LMDBS[wc.lmdb].get("sha256") or "",
        md5=lambda wc: DOWNLOAD_LMDBS[wc.lmdb].get("md5") or "",
        filename=lambda wc: PurePosixPath(DOWNLOAD_LMDBS[wc.lmdb]["dest"]).name,
    cache: True
    retries: 2
    conda:
        "../../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=500,
        runtime=240,
    shell:
        "{params.plmscope:q} --log {log:q} download --manifest {params.manifest:q} --url {params.url:q}"
        " --sha256={params.sha256:q} --md5={params.md5:q}"
        " -o {output:q}/{params.filename:q}"


rule download_extract:
    input:
        lambda wc: f"{DOWNLOAD_CACHE}/{DOWNLOAD_ARCHIVES[wc.extracted]['dest']}",
    output:
        directory(f"{DOWNLOAD_CACHE}/{{extracted}}"),
    log:
        "logs/download_extract/{extracted}.log",
    wildcard_constraints:
        extracted=DOWNLOAD_PATTERNS["extracted"],
    params:
        plmscope=PLMSCOPE,
        strip=lambda wc: DOWNLOAD_ARCHIVES[wc.extracted].get("strip_components", 0),
    conda:
        "../../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=60,
    shell:
        "{params.plmscope:q} --log {log:q} download --extract {input:q} --strip-components {params.strip:q} -o {output:q}"


rule download_all:
    input:
        list(DOWNLOAD_TARGETS.values()),
