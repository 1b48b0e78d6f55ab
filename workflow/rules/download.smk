# Downloads for the full paper reproduction (resources/downloads.yaml): checked, retried, cached.
# Every entry becomes one output under the download cache (config downloads: cache_dir:):
# a file (download_file), an LMDB directory (download_lmdb) or an unpacked archive (download_extract).
# `snakemake download_all` fetches everything, e.g. on a login node before a cluster run.
import re
from pathlib import PurePosixPath

import yaml


DOWNLOAD_CACHE = config.get("downloads", {}).get("cache_dir", "resources/downloads")

with open(workflow.source_path("../../resources/downloads.yaml")) as _manifest:
    DOWNLOADS = yaml.safe_load(_manifest)

# A file inside a `*.lmdb` directory stands for that directory (LMDB readers open the directory).
_LMDB_DIRS = {
    name: str(PurePosixPath(entry["dest"]).parent)
    for name, entry in DOWNLOADS.items()
    if not entry.get("extract") and PurePosixPath(entry["dest"]).parent.suffix == ".lmdb"
}

# Manifest name -> what the entry stands for: unpacked archive dir, LMDB dir or downloaded file.
DOWNLOAD_TARGETS = {
    name: f"{DOWNLOAD_CACHE}/{entry['extract_dir']}"
    if entry.get("extract")
    else f"{DOWNLOAD_CACHE}/{_LMDB_DIRS.get(name, entry['dest'])}"
    for name, entry in DOWNLOADS.items()
}

# Entries by the path (relative to the cache) of the output each rule below produces.
DOWNLOAD_FILES = {entry["dest"]: entry for name, entry in DOWNLOADS.items() if name not in _LMDB_DIRS}
DOWNLOAD_LMDBS = {path: DOWNLOADS[name] for name, path in _LMDB_DIRS.items()}
DOWNLOAD_ARCHIVES = {entry["extract_dir"]: entry for entry in DOWNLOADS.values() if entry.get("extract")}

# Wildcard regexes matching exactly those paths ("(?!)" never matches).
_DOWNLOAD_PATTERNS = {
    kind: "|".join(re.escape(path) for path in sorted(paths)) or "(?!)"
    for kind, paths in (("file", DOWNLOAD_FILES), ("lmdb", DOWNLOAD_LMDBS), ("extracted", DOWNLOAD_ARCHIVES))
}


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
        file=_DOWNLOAD_PATTERNS["file"],
    params:
        plmscope=PLMSCOPE,
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
        "{params.plmscope} download --url {params.url:q} --sha256={params.sha256} --md5={params.md5}"
        " -o {output:q} > {log} 2>&1"


rule download_lmdb:
    output:
        directory(f"{DOWNLOAD_CACHE}/{{lmdb}}"),
    log:
        "logs/download_lmdb/{lmdb}.log",
    wildcard_constraints:
        lmdb=_DOWNLOAD_PATTERNS["lmdb"],
    params:
        plmscope=PLMSCOPE,
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
        "{params.plmscope} download --url {params.url:q} --sha256={params.sha256} --md5={params.md5}"
        " -o {output:q}/{params.filename} > {log} 2>&1"


rule download_extract:
    input:
        lambda wc: f"{DOWNLOAD_CACHE}/{DOWNLOAD_ARCHIVES[wc.extracted]['dest']}",
    output:
        directory(f"{DOWNLOAD_CACHE}/{{extracted}}"),
    log:
        "logs/download_extract/{extracted}.log",
    wildcard_constraints:
        extracted=_DOWNLOAD_PATTERNS["extracted"],
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
        "{params.plmscope} download --extract {input:q} --strip-components {params.strip} -o {output:q}"
        " > {log} 2>&1"


rule download_all:
    input:
        list(DOWNLOAD_TARGETS.values()),
