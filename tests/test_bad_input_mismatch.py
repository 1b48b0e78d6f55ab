"""An attention dataset read with another protein table than it was computed from is refused, not misread.

Same protein id, other sequence length: enrichment, view and seqview would otherwise pair attention
rows with the wrong residues (a shorter analysed length passed silently before).
"""

from __future__ import annotations

import numpy as np
import pytest

from plmscope.cli import main
from plmscope.data.table import ProteinRecord, write_proteins

AA = list("ACDEFGHIKLMNPQRSTVWY")


def _table(path, lengths):
    rng = np.random.default_rng(0)
    records = [ProteinRecord(pid, "".join(rng.choice(AA, size=n)),
                             ca=np.cumsum(rng.normal(0, 2.0, size=(n, 3)), axis=0).astype(np.float32))
               for pid, n in lengths.items()]  # fmt: skip
    write_proteins(records, path)
    return path


@pytest.fixture(scope="module")
def computed(tmp_path_factory):
    """An attention dataset of proteins p1 (20 residues) and p2 (24), and a table where p2 has 30."""
    from plmscope.models.tiny import save_tiny_model

    root = tmp_path_factory.mktemp("mismatch")
    model = save_tiny_model("bert", root / "bert", layers=2, heads=2, max_positions=64)
    table = _table(root / "right.parquet", {"p1": 20, "p2": 24})
    other = _table(root / "other.parquet", {"p1": 20, "p2": 30})
    attention = root / "attention"
    assert main(["attention", "--proteins", str(table), "--model", str(model), "-o", str(attention),
                 "--theta", "0.05", "--device", "cpu", "--max-residues", "60"]) == 0  # fmt: skip
    return table, other, attention


@pytest.mark.parametrize(
    "verb",
    [
        ["enrichment", "--min-count", "1"],
        ["view", "--protein", "p2", "--layer", "1", "--head", "1"],
        ["view", "--protein-ids", "p1", "p2", "--layer", "1", "--head", "1"],
        ["seqview"],
    ],
)
def test_other_table_is_refused_in_one_line(computed, tmp_path, capsys, verb):
    table, other, attention = computed
    out = tmp_path / ("v.html" if "--protein" in verb else "out")
    assert main([verb[0], "--proteins", str(other), "--attention", str(attention), "-o", str(out), *verb[1:]]) == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert f"{other}: protein 'p2' has 30 residues, but {attention} analysed a sequence of 24" in err
    assert not out.exists() and list(tmp_path.iterdir()) == []
    out2 = tmp_path / ("w.html" if "--protein" in verb else "out2")  # the right table still works
    assert main([verb[0], "--proteins", str(table), "--attention", str(attention), "-o", str(out2), *verb[1:]]) == 0


def test_view_names_layers_and_heads_from_1(computed, tmp_path, capsys):
    table, _, attention = computed
    for layer, head, said in (("3", "1", "layer 3 is outside 1..2"), ("1", "0", "head 0 is outside 1..2")):
        assert main(["view", "--proteins", str(table), "--attention", str(attention), "--protein", "p1",
                     "--layer", layer, "--head", head, "-o", str(tmp_path / "v.html")]) == 1  # fmt: skip
        assert said in capsys.readouterr().err
