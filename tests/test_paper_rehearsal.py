"""Paper rehearsal (issue #11): the whole `paper` DAG end to end, offline, on CPU, on miniatures.

Every download of resources/downloads.yaml is served, in its upstream format, by a local HTTP server
(URL paths mirror the real hosts): TAPE's ProteinNet and secondary-structure tarballs of LMDBs, the
provis binding-site and PTM LMDBs (records copied from ../shared when present, else built in the same
schema), TAPE's bert-base config.json + pytorch_model.bin (tiny random weights). The paper's models are
tiny random checkpoints of every family (TAPE BERT via the real download + conversion, ProtBert,
ProtBert-BFD, ProtAlbert, ProtXLNet, ESM-2) with their tokenizer vocabularies, loaded through the same
resolver as the real ones. Only sizes differ from the real `snakemake paper`: models (2 layers x 2 heads,
hidden 16; one ESM-2 size stands for six), datasets (8 proteins per split, a sample of 6) and the settings
bound to them (max_residues 100, enrichment min_count 1, 2 probe epochs), plus scheduler resources (no GPU).
Each job's output is checked, not just the exit status.

Needs sentencepiece and protobuf (requirements.lock), as the real ProtAlbert/ProtXLNet tokenizers do.
"""

from __future__ import annotations

import collections
import functools
import hashlib
import http.server
import importlib.util
import json
import pickle
import subprocess
import sys
import tarfile
import threading
from pathlib import Path
from urllib.parse import urlsplit

import lmdb
import numpy as np
import pandas as pd
import pytest
import torch
import yaml

REPO = Path(__file__).resolve().parents[1]
SHARED_LMDB = REPO.parent / "shared" / "data" / "tape_lmdb"

pytestmark = pytest.mark.slow

TINY = {"layers": 2, "heads": 2, "hidden": 16, "max_positions": 128}
MAX_RESIDUES = 100  # attention.max_residues: below the tiny models' 128 positions (the real run: 510)
TRAIN, VALID, SAMPLE = 8, 5, 6  # proteins per train / valid split, and the paper's `sample` (the real run: 5000)

# paper model -> tiny family (None: TAPE BERT, downloaded in TAPE's format and converted by the workflow).
# The paper's names are kept so the comparison finds the published values; one ESM-2 size stands for six.
REHEARSAL_MODELS = {
    "tape_bert": None,
    "prot_albert": "albert",
    "prot_bert": "bert",
    "prot_bert_bfd": "bert",
    "prot_xlnet": "xlnet",
    "esm2_t6_8M_UR50D": "esm",
}
# entries pinned by sha256 in the rehearsal manifest; the others are unpinned as in the shipped
# manifest (trust on first use: their digests must land in the lock file)
PINNED = {"tape_bert_base_weights", "provis_binding_site_train"}
AMINO = "ACDEFGHIKLMNPQRSTVWY"
PROTTRANS_VOCAB = "[PAD] [UNK] [CLS] [SEP] [MASK] L A G V E S I K R D T P N Q F Y M H C W X U B Z O".split()


# --- miniature upstream files ---------------------------------------------------------------


def write_lmdb(path: Path, records: list[dict]) -> Path:
    """A TAPE-style LMDB: pickled records under "0".."n-1" and `num_examples` (as TAPE writes them)."""
    path.mkdir(parents=True)
    env = lmdb.open(str(path), map_size=1 << 26, subdir=True)
    with env.begin(write=True) as txn:
        for k, record in enumerate(records):
            txn.put(str(k).encode(), pickle.dumps(record))
        txn.put(b"num_examples", pickle.dumps(len(records)))
    env.close()
    return path


def random_chain(rng: np.random.Generator, n: int) -> np.ndarray:
    """CA trace of a compact random walk (3.8 Å steps), so that long-range contacts exist."""
    steps = rng.normal(size=(n, 3))
    steps *= 3.8 / np.linalg.norm(steps, axis=1, keepdims=True)
    return np.cumsum(steps, axis=0).astype(np.float32)


def proteinnet_record(rng: np.random.Generator, k: int, split: str) -> dict:
    """A record of TAPE's proteinnet_*.lmdb: `tertiary` (L, 3) CA in Å, `valid_mask` (L,), as TAPE reads them."""
    n = int(rng.integers(40, 130))
    mask = np.ones(n, dtype=bool)
    mask[rng.choice(n, 2, replace=False)] = False
    return {
        "id": f"{k}#1ABC_{split}_{k}",
        "primary": "".join(rng.choice(list(AMINO), n)),
        "protein_length": n,
        "evolutionary": rng.random((n, 21)).astype(np.float32),
        "tertiary": random_chain(rng, n),
        "valid_mask": mask,
    }


def secondary_structure_record(rng: np.random.Generator, k: int, split: str) -> dict:
    """A record of TAPE's secondary_structure_*.lmdb: `ss8` classes 0..7 (G H I B E S T C), `ss3` 0..2."""
    n = int(rng.integers(40, 130))
    runs = np.repeat(rng.integers(0, 8, size=n // 4 + 1), 4)[:n]
    ss3 = np.select([np.isin(runs, [0, 1, 2]), np.isin(runs, [3, 4])], [0, 1], 2)
    return {
        "id": f"{split.upper()}{k}_A",
        "primary": "".join(rng.choice(list(AMINO), n)),
        "protein_length": n,
        "ss8": runs.astype(np.int64),
        "ss3": ss3.astype(np.int64),
        "disorder": np.zeros(n, dtype=np.int64),
        "rsa": rng.random(n).astype(np.float32),
    }


def provis_records(kind: str, count: int, offset: int) -> list[dict]:
    """Records of provis' binding-site / PTM LMDBs: real ones from ../shared when present, else synthetic.

    Short chains that carry at least one label are taken (or every short chain, if too few do).
    """
    field = "sites" if kind == "binding_site" else "modifications"
    source = SHARED_LMDB / f"{kind}_valid.lmdb"
    if (source / "data.mdb").is_file():
        env = lmdb.open(str(source), readonly=True, lock=False)
        with env.begin() as txn:
            total = pickle.loads(txn.get(b"num_examples"))
            items = [pickle.loads(txn.get(str(k).encode())) for k in range(total)]
        env.close()
        short = [it for it in items if 30 <= len(it["primary"]) <= 130]
        labelled = [it for it in short if it[field]] + [it for it in short if not it[field]]
        return labelled[offset : offset + count]
    rng = np.random.default_rng(offset)
    records = []
    for k in range(count):
        n = int(rng.integers(40, 120))
        positions = list(range(5, 5 + n))
        records.append({
            "id": f"{k + offset}abc.A",
            field: [int(p) for p in rng.choice(positions, 3, replace=False)],
            "primary": "".join(rng.choice(list(AMINO), n)),
            "positions": positions,
        })  # fmt: skip
    return records


def tar_gz(src: Path, archive: Path) -> Path:
    """A .tar.gz holding `src` under its own name (TAPE's archives hold one top-level folder)."""
    archive.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(src, arcname=src.name)
    return archive


def tape_bert_base(out: Path) -> dict[str, Path]:
    """TAPE's bert-base download at tiny size: config.json (TAPE keys, no model_type) + pytorch_model.bin.

    The state dict carries TAPE's names (`bert.` prefix, pooler, the `mlm.` head the conversion drops).
    """
    from transformers import BertConfig, BertModel

    torch.manual_seed(1)
    config = {
        "attention_probs_dropout_prob": 0.1, "finetuning_task": None, "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1, "hidden_size": TINY["hidden"], "initializer_range": 0.02,
        "intermediate_size": 2 * TINY["hidden"], "layer_norm_eps": 1e-12,
        "max_position_embeddings": TINY["max_positions"], "num_attention_heads": TINY["heads"],
        "num_hidden_layers": TINY["layers"], "num_labels": -1, "output_attentions": False,
        "output_hidden_states": False, "torchscript": False, "type_vocab_size": 2, "vocab_size": 30,
    }  # fmt: skip
    bert_config = {k: v for k, v in config.items() if k not in {"finetuning_task", "num_labels"}}
    model = BertModel(BertConfig(**{**bert_config, "initializer_range": 0.5}))
    state = {f"bert.{k}": v for k, v in model.state_dict().items() if k.endswith((".weight", ".bias"))}
    hidden = TINY["hidden"]
    state.update({
        "mlm.transform.dense.weight": torch.randn(hidden, hidden), "mlm.transform.dense.bias": torch.zeros(hidden),
        "mlm.transform.LayerNorm.weight": torch.ones(hidden), "mlm.transform.LayerNorm.bias": torch.zeros(hidden),
        "mlm.decoder.weight": state["bert.embeddings.word_embeddings.weight"], "mlm.bias": torch.zeros(30),
    })  # fmt: skip
    out.mkdir(parents=True)
    (out / "config.json").write_text(json.dumps(config, indent=2))
    torch.save(state, out / "pytorch_model.bin")
    return {"tape_bert_base_config": out / "config.json", "tape_bert_base_weights": out / "pytorch_model.bin"}


def build_miniatures(work: Path) -> dict[str, Path]:
    """Manifest entry name -> the miniature file served for it (same format as upstream)."""
    rng = np.random.default_rng(123)
    files: dict[str, Path] = {}
    pn = work / "tape" / "proteinnet"
    for split, count in (("train", TRAIN), ("valid", VALID), ("test", 3)):
        write_lmdb(pn / f"proteinnet_{split}.lmdb", [proteinnet_record(rng, k, split) for k in range(count)])
    files["tape_proteinnet"] = tar_gz(pn, work / "archives" / "proteinnet.tar.gz")
    ss = work / "tape" / "secondary_structure"
    for split, count in (("train", TRAIN), ("valid", VALID), ("casp12", 2), ("ts115", 2), ("cb513", 2)):
        records = [secondary_structure_record(rng, k, split) for k in range(count)]
        write_lmdb(ss / f"secondary_structure_{split}.lmdb", records)
    files["tape_secondary_structure"] = tar_gz(ss, work / "archives" / "secondary_structure.tar.gz")
    for kind, folder, prefix in (
        ("binding_site", "binding_sites", "provis_binding_site"),
        ("protein_modification", "protein_modifications", "provis_protein_modification"),
    ):
        for split, count, offset in (("train", TRAIN, 0), ("valid", VALID, TRAIN)):
            path = write_lmdb(work / "provis" / folder / f"{kind}_{split}.lmdb", provis_records(kind, count, offset))
            (path / "lock.mdb").unlink()  # provis' downloads are data.mdb alone
            files[f"{prefix}_{split}"] = path / "data.mdb"
    files.update(tape_bert_base(work / "tape_bert-base"))
    return files


# SentencePiece layouts of the tiny ALBERT / XLNet vocabularies (models/tiny.py): fixed ids, then control
# symbols in the free slots, then one "▁X" word piece per residue letter.
SPIECE = {
    "albert": {"pad_id": 0, "unk_id": 1, "bos_id": -1, "eos_id": -1, "pad_piece": "<pad>",
               "control_symbols": ["[CLS]", "[SEP]", "[MASK]"]},
    "xlnet": {"unk_id": 0, "bos_id": 1, "eos_id": 2, "pad_id": 5, "bos_piece": "<s>", "eos_piece": "</s>",
              "pad_piece": "<pad>", "control_symbols": ["<cls>", "<sep>", "<mask>", "<eod>", "<eop>"]},
}  # fmt: skip


def write_spiece(family: str, out: Path) -> None:
    """Replace the tokenizer files with a SentencePiece `spiece.model`, the only tokenizer file ProtAlbert and
    ProtXLNet ship: loading it exercises transformers' sentencepiece conversion, as the real run does."""
    import io

    import sentencepiece as spm
    from plmscope.models.tiny import PROTEIN_LETTERS

    rng = np.random.default_rng(0)
    lines = [" ".join(rng.choice(list(PROTEIN_LETTERS), 60)) for _ in range(100)] + [" ".join(PROTEIN_LETTERS)]
    spec = SPIECE[family]
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(lines), model_writer=model, model_type="word", character_coverage=1.0,
        vocab_size=sum(spec[k] >= 0 for k in ("pad_id", "unk_id", "bos_id", "eos_id")) + len(spec["control_symbols"])
        + len(PROTEIN_LETTERS), minloglevel=2, **spec,
    )  # fmt: skip
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        (out / name).unlink(missing_ok=True)
    (out / "spiece.model").write_bytes(model.getvalue())


def build_models(root: Path) -> dict[str, str]:
    """Tiny random checkpoints of each transformers family (save_pretrained + the tokenizer files upstream ships)."""
    from plmscope.models.tiny import save_tiny_model

    sources = {}
    for seed, (name, family) in enumerate(REHEARSAL_MODELS.items()):
        if family is not None:
            sources[name] = str(save_tiny_model(family, root / name, seed=seed, **TINY))
        if family in SPIECE:
            write_spiece(family, root / name)
        if family == "bert":  # Rostlab/prot_bert(_bfd) ship the WordPiece vocab.txt (ProtTrans' 30 tokens)
            for file in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
                (root / name / file).unlink(missing_ok=True)
            (root / name / "vocab.txt").write_text("\n".join(PROTTRANS_VOCAB) + "\n")
    return sources


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- the local server ---------------------------------------------------------------------


class _Handler(http.server.SimpleHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server API)
        self.server.hits[self.path] += 1
        super().do_GET()

    def log_message(self, *args):
        pass


@pytest.fixture
def mirror(tmp_path):
    """A server on 127.0.0.1 serving tmp_path/mirror/<host>/<path> (the upstream URLs' layout)."""
    root = tmp_path / "mirror"
    root.mkdir()
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Handler, directory=str(root)))
    srv.daemon_threads = True
    srv.hits, srv.root = collections.Counter(), root
    srv.url = f"http://127.0.0.1:{srv.server_address[1]}"
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def mirror_manifest(shipped: dict, files: dict[str, Path], mirror, out: Path) -> tuple[Path, dict[str, str]]:
    """The shipped manifest with each URL moved to the mirror (file placed there) and miniature digests.

    PINNED entries get their sha256, the others stay null (as shipped); md5 where the shipped one has one.
    """
    manifest, digests = {}, {}
    for name, entry in shipped.items():
        parts = urlsplit(entry["url"])
        served = mirror.root / parts.hostname / parts.path.lstrip("/")
        served.parent.mkdir(parents=True, exist_ok=True)
        served.write_bytes(files[name].read_bytes())
        digests[name] = sha256(served)
        entry = {**entry, "url": f"{mirror.url}/{parts.hostname}{parts.path}"}
        entry["sha256"] = digests[name] if name in PINNED else None
        if entry.get("md5"):
            entry["md5"] = hashlib.md5(served.read_bytes()).hexdigest()  # noqa: S324 (as upstream publishes)
        manifest[name] = entry
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(yaml.safe_dump(manifest, sort_keys=False))
    return out, digests


def rehearsal_config(manifest: Path, sources: dict[str, str]) -> dict:
    """config.yaml with the paper block on miniatures: only sizes, settings bound to them and resources change."""
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    config["downloads"]["manifest"] = str(manifest)
    config["epistasis"]["activate"] = False
    config["attention"].update(threads=1, max_residues=MAX_RESIDUES, mem_mb=1000, runtime=10)
    config["enrichment"]["min_count"] = 1  # a handful of proteins (the paper: 100 attention weights per head)
    config["probing"].update(threads=1, max_epochs=2, max_iter=100, mem_mb=1000, runtime=10)
    paper = config["paper"]
    paper["attention"].update(gpus=0, mem_mb=1000, runtime=10)
    paper["models"] = {
        name: {"source": sources.get(name, paper["models"][name]["source"])} for name in REHEARSAL_MODELS
    }
    for dataset in paper["datasets"].values():
        dataset["sample"] = SAMPLE
    return config


def snakemake(tmp_path: Path, *args: str, timeout: int = 1200) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-d", str(tmp_path / "run"),
         "--configfile", str(tmp_path / "config.yaml"), *args],
        cwd=tmp_path, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip


# --- the rehearsal ------------------------------------------------------------------------


def test_paper_rehearsal(tmp_path, mirror):
    for module in ("sentencepiece", "google.protobuf"):  # a failure, not a skip: the real run needs them
        assert importlib.util.find_spec(module.split(".")[0]), (
            f"{module} is not installed: Rostlab/prot_albert and Rostlab/prot_xlnet ship only spiece.model, which "
            "transformers cannot read without sentencepiece and protobuf (pip install -r requirements.lock)"
        )
    shipped = yaml.safe_load((REPO / "resources" / "downloads.yaml").read_text())
    files = build_miniatures(tmp_path / "upstream")
    assert set(files) == set(shipped), "a miniature for every download of the shipped manifest"
    manifest, digests = mirror_manifest(shipped, files, mirror, tmp_path / "manifest" / "downloads.yaml")
    sources = build_models(tmp_path / "models")
    config = rehearsal_config(manifest, sources)
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))

    result = snakemake(tmp_path, "--cores", "2", "paper")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-6000:]
    check_outputs(tmp_path / "run", config, manifest, digests, mirror)


def check_outputs(run: Path, config: dict, manifest: Path, digests: dict[str, str], mirror) -> None:
    from plmscope.data.download import read_lock
    from plmscope.models.registry import load_adapter

    paper = config["paper"]
    models, datasets = list(paper["models"]), list(paper["datasets"])
    shipped = yaml.safe_load(manifest.read_text())
    cache = run / config["downloads"]["cache_dir"]

    # downloads: each needed file fetched once from the mirror, verified, recorded (TOFU) or pinned
    lock = read_lock(manifest.with_name("downloads.lock.yaml"))
    needed = {name for name in shipped if name != "provis_protein_modification_valid"}  # no job reads it
    for name in needed:
        entry = shipped[name]
        dest = cache / entry["dest"]
        assert sha256(dest) == digests[name], name
        assert mirror.hits[urlsplit(entry["url"]).path] == 1, name
        if name in PINNED:
            assert name not in lock, name
        else:
            assert lock[name] == digests[name], name
    for name in ("tape_proteinnet", "tape_secondary_structure"):
        unpacked = cache / shipped[name]["extract_dir"]
        assert sorted(p.name for p in unpacked.glob("*.lmdb")), name
        assert (unpacked / f"{name.removeprefix('tape_')}_train.lmdb" / "data.mdb").is_file()

    # conversion: the converted TAPE BERT is a transformers BERT that loads like any model
    adapter = load_adapter(str(run / "resources/models/tape_bert"), max_residues=MAX_RESIDUES, device="cpu")
    assert (adapter.num_layers, adapter.num_heads) == (TINY["layers"], TINY["heads"])

    # sampling: the sample of each train split, the full split for backgrounds, TAPE's valid splits
    for dataset in datasets:
        assert len(pd.read_parquet(run / f"results/proteins/{dataset}.parquet")) == SAMPLE, dataset
        assert len(pd.read_parquet(run / f"results/proteins_full/{dataset}.parquet")) == TRAIN, dataset
    for dataset in paper["probing_valid_datasets"]:
        assert len(pd.read_parquet(run / f"results/proteins/{dataset}_valid.parquet")) == VALID, dataset

    for model in models:
        for dataset in datasets:
            check_attention(run / "results/attention" / model / dataset, model, dataset)
            check_enrichment(run / "results/enrichment" / model / dataset, "provis", model, dataset)
            check_enrichment(run / "results/enrichment_plmscope" / model / dataset, "plmscope", model, dataset)
            assert list((run / "results/figures" / model / dataset).glob("*.png")), (model, dataset)
            assert list((run / "results/paper_analyses" / model / dataset).glob("*.csv")), (model, dataset)
        for dataset in paper["probing_valid_datasets"]:
            check_probing(run / "results/probing" / model / dataset, model, dataset)

    check_comparison(run / "results/paper", models)


def check_attention(path: Path, model: str, dataset: str) -> None:
    """The attention dataset: every sampled protein, rows counted per head, provis semantics, tiny shape."""
    meta = json.loads((path / "meta.json").read_text())
    assert meta["semantics"] == "provis" and meta["max_residues"] == MAX_RESIDUES, (model, dataset)
    assert (meta["num_layers"], meta["num_heads"]) == (TINY["layers"], TINY["heads"]), (model, dataset)
    assert meta["n_proteins"] == SAMPLE and meta["n_skipped"] == 0, (model, dataset)
    counts = pd.read_parquet(path / "counts.parquet")
    assert meta["n_rows"] > 0 and int(counts.select_dtypes("number").to_numpy().sum()) >= meta["n_rows"], (model, dataset)
    assert len(pd.read_parquet(path / "proteins.parquet")) == SAMPLE, (model, dataset)


FEATURES = {"contact", "binding_site", "ptm", "helix", "strand", "turn_bend"} | {f"aa_{a}" for a in AMINO}
OWN_FEATURE = {"proteinnet": "contact", "secondary_structure": "helix", "binding_sites": "binding_site",
               "protein_modifications": "ptm"}  # fmt: skip


def check_enrichment(path: Path, semantics: str, model: str, dataset: str) -> None:
    """Every feature x head (1-based on disk), the dataset's own feature scored, the run's semantics recorded."""
    meta = json.loads((path / "meta.json").read_text())
    assert meta["semantics"] == semantics, (path, meta.get("semantics"))
    table = pd.read_parquet(path / "enrichment.parquet")
    assert FEATURES <= set(table["feature"]), (path, FEATURES - set(table["feature"]))
    heads = TINY["layers"] * TINY["heads"]
    assert (table.groupby("feature").size() == heads).all(), path
    assert set(table["layer"]) == set(range(1, TINY["layers"] + 1)) and set(table["head"]) == {1, 2}, path
    own = table[table["feature"] == OWN_FEATURE[dataset]]
    assert (~own["masked"]).any() and own["proportion"].notna().any(), (path, "own feature never scored")
    assert ("weight_total" in table.columns) == (semantics == "provis"), path
    assert len(pd.read_parquet(path / "top_heads.parquet")), path
    backgrounds = pd.read_parquet(path / "backgrounds.parquet")
    assert backgrounds.loc[backgrounds["feature"] == OWN_FEATURE[dataset], "background"].gt(0).all(), path


def check_probing(path: Path, model: str, dataset: str) -> None:
    """provis probes of layers 1..N, scored on TAPE's validation split."""
    table = pd.read_parquet(path / "probing.parquet")
    assert set(table["semantics"]) == {"provis"}, path
    assert set(table["layer"]) == set(range(1, TINY["layers"] + 1)), (path, sorted(set(table["layer"])))
    # a 2-epoch probe may predict no positive (F1 undefined) on a layer, but each task is scored somewhere
    assert table.groupby(["probe", "task"])["score"].count().gt(0).all(), path
    assert set(table["n_train_proteins"]) == {SAMPLE} and set(table["n_valid_proteins"]) == {VALID}, path
    tasks = set(table["task"])
    assert {"proteinnet": {"contact"}, "binding_sites": {"binding_site"}, "secondary_structure": {"helix"}}[dataset] <= tasks
    assert len(pd.read_parquet(path / "probing_gravity.parquet")), path


def check_comparison(path: Path, models: list[str]) -> None:
    """A row per model x feature of the paper's table, our values under both semantics, the paper's beside."""
    table = pd.read_csv(path / "comparison.csv")
    paper = pd.read_csv(REPO / "resources" / "paper" / "vig2021_top_heads.csv")
    features = {"contact": "proteinnet", "binding_site": "binding_sites", "ptm": "protein_modifications"}
    # secondary structure (Fig. 4: per layer only, no paper top head) from its configured dataset
    per_layer = table[table["feature"].isin(["helix", "strand", "turn_bend"])]
    assert set(per_layer["model"]) == set(models) and "helix" in set(per_layer["feature"])
    assert (per_layer["dataset"] == "secondary_structure").all() and per_layer["paper_value_pct"].isna().all()
    assert per_layer["our_head"].notna().all()
    table = table.drop(per_layer.index)
    assert sorted(zip(table["model"], table["feature"])) == sorted((m, f) for m in models for f in features)
    for row in table.itertuples():
        where = (row.model, row.feature)
        assert row.dataset == features[row.feature] and row.semantics == "provis", where
        assert isinstance(row.our_head, str) and row.our_value_pct > 0 and row.our_background_pct > 0, where
        assert row.our_heads_tested == TINY["layers"] * TINY["heads"], where
        assert row.provis_value_pct == row.our_value_pct and row.plmscope_value_pct > 0, where
        assert pd.notna(row.our_blosum_r), where
        published = paper[(paper["model_key"] == row.model) & (paper["feature"] == row.feature)]
        if len(published):
            assert row.paper_head == published["paper_head"].iloc[0], where
            assert row.paper_value_pct == published["paper_value_pct"].iloc[0], where
        else:
            assert pd.isna(row.paper_value_pct), where
    assert table["paper_value_pct"].notna().sum() == len(paper), "every published value placed beside ours"
    assert "tape_bert" in (path / "comparison.md").read_text()
    probing = pd.read_csv(path / "probing_comparison.csv")
    assert set(probing["model"]) == set(models) and set(probing["semantics"]) == {"provis"}
    assert set(probing["dataset"]) == {"proteinnet", "binding_sites", "secondary_structure"}
    assert probing["best_value"].notna().all()
