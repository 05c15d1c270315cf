"""The ``demo`` extra's libraries are imported only by the functions that need them."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from torch_deepsmote.evaluation._extras import EXTRA_INSTALL, import_extra

EXTRA_LIBRARIES = ("sklearn", "imblearn", "scipy", "matplotlib")


def test_evaluation_and_baselines_import_and_fail_clearly_without_the_extra(tmp_path):
    """In a fresh interpreter where the four libraries cannot be imported, every evaluation and
    baseline module imports, and each function needing one names it and the extra."""
    script = textwrap.dedent(
        f"""
        import sys
        for name in {EXTRA_LIBRARIES!r}:
            sys.modules[name] = None  # makes `import name` raise ModuleNotFoundError
        import torch
        from torch_deepsmote.baselines import amdo, bagan, gamo, mc_ccr, mc_rbo
        from torch_deepsmote.evaluation import celeba, classifier, datasets, formats, metrics, plots

        def refused(call, library):
            try:
                call()
            except ImportError as error:
                assert library in str(error) and {EXTRA_INSTALL!r} in str(error), str(error)
            else:
                raise AssertionError(f"{{call}} ran without {{library}}")

        refused(lambda: metrics.imbalanced_report([0, 1], [0, 1]), "scikit-learn")
        refused(lambda: datasets.load_dataset("digits"), "scikit-learn")
        refused(lambda: formats.load_svhn({str(tmp_path)!r}), "scipy")
        refused(lambda: plots.save_metric_bars({str(tmp_path / "m.png")!r}, {{"a": {{"acsa": 0.5}}}}), "matplotlib")
        plots.save_class_grid({str(tmp_path / "grid.png")!r}, [(torch.zeros(1, 1, 4, 4, dtype=torch.uint8),) * 2])
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "grid.png").is_file()


def test_import_extra_names_the_library_and_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "imblearn.metrics", None)
    with pytest.raises(
        ImportError,
        match=r"^thing needs imbalanced-learn, which is not installed\. Install the demo "
        r'extra: pip install "torch_deepsmote\[demo\]"$',
    ):
        import_extra("imblearn.metrics", needed_by="thing")


def test_import_extra_leaves_other_missing_modules_alone(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch_deepsmote_absent", None)
    with pytest.raises(ModuleNotFoundError) as info:
        import_extra("torch_deepsmote_absent", needed_by="thing")
    assert "demo" not in str(info.value)
