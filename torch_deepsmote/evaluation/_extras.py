"""Import of the ``demo`` extra's libraries, only inside the functions that need them.

scikit-learn, imbalanced-learn, scipy and matplotlib serve the evaluation helpers
(metrics, the digits and SVHN loaders, bar charts), never the oversampler, so no
module imports them at import time.
"""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["EXTRA_INSTALL", "import_extra"]

EXTRA_INSTALL = 'pip install "torch_deepsmote[demo]"'
_DISTRIBUTIONS = {
    "sklearn": "scikit-learn",
    "imblearn": "imbalanced-learn",
    "scipy": "scipy",
    "matplotlib": "matplotlib",
}


def import_extra(module: str, *, needed_by: str) -> ModuleType:
    """Import ``module``, a part of one of the ``demo`` extra's libraries.

    Args:
        module: Dotted module name, e.g. ``"sklearn.metrics"``.
        needed_by: What needs it, for the error message, e.g. ``"imbalanced_report"``.

    Returns:
        The imported module.

    Raises:
        ImportError: If that library, or another library of the extra that it
            imports, is not installed; the message names the library and the
            command that installs the extra.
    """
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as error:
        missing = (error.name or "").partition(".")[0]
        if missing not in _DISTRIBUTIONS:
            raise
        raise ImportError(
            f"{needed_by} needs {_DISTRIBUTIONS[missing]}, which is not installed. "
            f"Install the demo extra: {EXTRA_INSTALL}"
        ) from error
