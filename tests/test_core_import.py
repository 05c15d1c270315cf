"""The core package imports without the optional extras, and reports the version setup.cfg declares."""

from __future__ import annotations

import configparser
import json
import subprocess
import sys
from pathlib import Path

import pytest

SETUP_CFG = Path(__file__).resolve().parent.parent / "setup.cfg"

# The demo/bench extras (and pykeops, which is only loaded when the KeOps backend runs):
# none of them may be imported by a plain `import torch_deepsmote`.
OPTIONAL_MODULES = ("sklearn", "imblearn", "scipy", "matplotlib", "pykeops")

PROBE = """
import json, sys
import torch_deepsmote
optional = {optional!r}
loaded = sorted({{name.split(".")[0] for name in sys.modules}} & set(optional))
print(json.dumps({{"version": torch_deepsmote.__version__, "loaded": loaded}}))
"""


@pytest.fixture(scope="module")
def fresh_import() -> dict:
    """Import torch_deepsmote in a new interpreter; return its version and the optional modules it loaded."""
    completed = subprocess.run(
        [sys.executable, "-c", PROBE.format(optional=OPTIONAL_MODULES)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, f"`import torch_deepsmote` failed:\n{completed.stderr}"
    return json.loads(completed.stdout.strip().splitlines()[-1])


def test_import_loads_no_optional_dependency(fresh_import: dict) -> None:
    loaded = fresh_import["loaded"]
    assert loaded == [], f"`import torch_deepsmote` imported optional modules: {loaded}"


def test_version_matches_setup_cfg(fresh_import: dict) -> None:
    config = configparser.ConfigParser()
    assert config.read(SETUP_CFG, encoding="utf-8"), f"cannot read {SETUP_CFG}"
    declared = config["metadata"]["version"]
    assert fresh_import["version"] == declared
