"""Benchmark profiles (data, classifier, budget, every method's settings) and the paper's figures.

The profiles and the classifier are defined once, in the package
(:mod:`torch_deepsmote.evaluation.protocol`), and re-exported here unchanged, so that
``deepsmote demo`` trains and scores with exactly the settings of the committed results,
which can be traced to their configuration. The classifier's learning rate decays to 0
over its steps (``"lr_schedule": "cosine"``), so each method is scored once its training
has settled, not at whatever its last full-size step left behind.
"""

from __future__ import annotations

from torch_deepsmote.evaluation.protocol import PROFILES, make_classifier

__all__ = ["PROFILES", "PAPER_FMNIST", "make_classifier"]

# The paper's Table 1 (journal Table II), Fashion-MNIST, imbalanced test set: ACSA / GM / F1.
PAPER_FMNIST = {
    "SMOTE": "67.94 / 74.84 / 67.12",
    "AMDO": "74.90 / 80.89 / 75.39",
    "MC-CCR": "78.58 / 86.17 / 79.03",
    "MC-RBO": "80.06 / 88.02 / 80.14",
    "BAGAN": "82.50 / 90.51 / 82.96",
    "GAMO": "83.05 / 90.76 / 83.00",
    "DeepSMOTE (paper penalty)": "84.88 / 91.63 / 83.79",
    "DeepSMOTE (official penalty)": "84.88 / 91.63 / 83.79",
}
