"""The committed benchmark results: each table is its runs file's, byte for byte; no checkpoints; small.

Needs no training: the tables are regenerated from ``runs.jsonl`` in memory
(``benchmarks/tables.py``), as ``python benchmarks/tables.py --check benchmarks/results/*`` does.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = ROOT / "benchmarks"
RESULTS = BENCHMARKS / "results"
FOLDERS = sorted(path.parent for pattern in ("*/runs.jsonl", "*/*/runs.jsonl") for path in RESULTS.glob(pattern))
LIMIT_BYTES = 5 * 1024 * 1024
# What every row records (``compare.py`` writes these; the merged rows of earlier runs have them too).
FIELDS = {"profile", "method", "seed", "commit", "machine", "settings", "balanced", "resample_seconds", "train_seconds"}


@pytest.fixture
def tables(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import tables as module

    return module


def test_there_is_one_folder_per_profile():
    assert {folder.name for folder in FOLDERS} >= {"smoke", "cpu", "cpu-long", "cpu-longer", "gpu", "ablation"}


@pytest.mark.parametrize("folder", FOLDERS, ids=[str(folder.relative_to(RESULTS)) for folder in FOLDERS])
def test_every_table_is_generated_from_the_runs_file_byte_for_byte(tables, folder):
    generated = tables.generate(folder)
    assert generated, f"{folder.name}: no tables"
    for name, text in generated.items():
        path = folder / name
        assert path.exists(), f"{path} is missing: python benchmarks/tables.py {folder.relative_to(ROOT)}"
        assert path.read_text(encoding="utf-8") == text, (
            f"{path} differs from what its runs file gives: tables are generated, not edited "
            f"(python benchmarks/tables.py {folder.relative_to(ROOT)})"
        )
    written = {path.name for path in folder.glob("table*.md")}
    assert written == set(generated), (
        f"{folder.name}: tables no runs file generates: {sorted(written - set(generated))}"
    )


@pytest.mark.parametrize("folder", FOLDERS, ids=[str(folder.relative_to(RESULTS)) for folder in FOLDERS])
def test_each_row_records_one_measurement_of_one_protocol(tables, folder):
    rows = tables.read_runs(folder / tables.RUNS)
    assert rows
    for row in rows:
        assert FIELDS <= set(row), f"{folder.name}: a row of {row.get('method')} lacks {sorted(FIELDS - set(row))}"
        assert isinstance(row["seed"], int) and 0.0 <= row["balanced"]["acsa"] <= 1.0
        assert row["balanced"]["recall"], "per-class recall"
    protocols = {json.dumps(tables.protocol(row["settings"]), sort_keys=True) for row in rows}
    assert len(protocols) == 1, f"{folder.name}: rows of {len(protocols)} protocols in one runs file"
    assert len({row["profile"] for row in rows}) == 1


def test_the_display_map_is_unambiguous(tables):
    renames = tables.load_display()
    seen = {}
    for rename in renames:
        assert rename["commits"] and rename["names"]
        for commit in rename["commits"]:
            assert re.fullmatch(r"[0-9a-f]{7,40}", commit), commit
            for measured, shown in rename["names"].items():
                assert measured != shown
                key = (commit, measured)
                assert key not in seen, f"{measured!r} at {commit} is shown as {seen[key]!r} and as {shown!r}"
                seen[key] = shown


def test_no_checkpoints_and_under_five_megabytes():
    files = [path for path in RESULTS.rglob("*") if path.is_file()]
    assert not [path for path in files if path.suffix == ".pt"], "checkpoints are not results (.gitignore ignores them)"
    total = sum(path.stat().st_size for path in files)
    assert total <= LIMIT_BYTES, f"benchmarks/results holds {total / 2**20:.1f} MiB, more than 5"


@pytest.mark.parametrize("figure", sorted(RESULTS.rglob("*.png")), ids=lambda path: str(path.relative_to(RESULTS)))
def test_every_figure_kept_is_described_in_its_folder_notes(figure):
    notes = figure.parent / "NOTES.md"
    assert notes.exists() and figure.name in notes.read_text(encoding="utf-8"), (
        f"{figure.relative_to(ROOT)}: keep only the figures the notes or the docs cite"
    )
