"""The benchmark's smoke profile runs end to end (every method, digits, seconds)."""

from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture
def compare(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import compare as module

    return module


def test_smoke_profile_fills_every_row(compare, tmp_path):
    from methods import GENERATIVE, METHODS

    out = compare.main(["--profile", "smoke", "--out", str(tmp_path / "smoke")])
    table = (out / "table.md").read_text()
    for name in METHODS:
        assert f"| {name} |" in table
    assert (out / "results.json").is_file() and (out / "metrics.png").is_file()
    assert len(list(out.glob("grid-*.png"))) == len(GENERATIVE)
