"""Benchmark profiles (data, classifier, budget, every method's settings) and the paper's figures.

Every setting a method uses in a profile is here, so the committed results can be
traced to their configuration. The classifier's learning rate decays to 0 over its
steps (``"lr_schedule": "cosine"``), so each method is scored once its training has
settled, not at whatever its last full-size step left behind.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torchvision.models import resnet18

from torch_deepsmote.evaluation.classifier import SmallCNN
from torch_deepsmote.nn.init import reset_parameters_

PROFILES: dict[str, dict[str, Any]] = {
    # digits made imbalanced (the demo's profile), everything tiny: seconds, run in CI.
    "smoke": {
        "dataset": "digits",
        "classifier": "small-cnn",
        "epochs": 2,
        "batch_size": 64,
        "lr": 1e-3,
        "lr_schedule": "cosine",
        "seeds": [0],
        "settings": {
            "deepsmote": {"epochs": 2, "width": 8, "latent_dim": 16, "batch_size": 32},
            "bagan": {"autoencoder_epochs": 1, "gan_epochs": 1},
            "gamo": {"steps": 10},
            "mc_ccr": {"energy": 5.0},
            "mc_rbo": {"n_steps": 20, "gamma": 10.0},
            "amdo": {},
        },
    },
    # Fashion-MNIST at the paper's counts, a small CNN, budgets sized for a 2-core CPU.
    "cpu": {
        "dataset": "fashion-mnist",
        "classifier": "small-cnn",
        "epochs": 3,
        "batch_size": 128,
        "lr": 1e-3,
        "lr_schedule": "cosine",
        "seeds": [0, 1, 2],
        "settings": {
            "deepsmote": {"epochs": 10, "width": 16, "latent_dim": 128, "batch_size": 100},
            "bagan": {"autoencoder_epochs": 2, "gan_epochs": 2, "width": 8},
            "gamo": {"steps": 1000},
            "mc_ccr": {},
            "mc_rbo": {},
            "amdo": {},
        },
    },
    # A reduced "paper" profile for one ~8-minute GPU run (benchmarks/gpu_check.sh):
    # ResNet-18, one seed, 10 epochs, the paper's autoencoder at 50 epochs.
    "gpu": {
        "dataset": "fashion-mnist",
        "classifier": "resnet18",
        "epochs": 10,
        "batch_size": 128,
        "lr": 1e-3,
        "lr_schedule": "cosine",
        "seeds": [0],
        "settings": {
            "deepsmote": {"epochs": 50},
            "bagan": {"autoencoder_epochs": 5, "gan_epochs": 5},
            "gamo": {"steps": 2000},
            "mc_ccr": {},
            "mc_rbo": {},
            "amdo": {},
        },
    },
    # The paper's protocol for a GPU: ResNet-18, 5 seeds, the authors' budgets.
    "paper": {
        "dataset": "fashion-mnist",
        "classifier": "resnet18",
        "epochs": 30,
        "batch_size": 128,
        "lr": 1e-3,
        "lr_schedule": "cosine",
        "seeds": [0, 1, 2, 3, 4],
        "settings": {
            "deepsmote": {"epochs": 200},
            "bagan": {"autoencoder_epochs": 150, "gan_epochs": 150},
            "gamo": {"steps": 25_000},
            "mc_ccr": {},
            "mc_rbo": {},
            "amdo": {},
        },
    },
}

# The `cpu` profile with a 3× longer classifier budget (2817 steps, where random
# oversampling shows each of the 40 images of the rarest class about 900 times): does
# the variety of synthetic images pay once copies are overfitted?
PROFILES["cpu-long"] = PROFILES["cpu"] | {"epochs": 9}
# 9× the `cpu` profile's budget (8451 steps, the rarest class's 40 images shown about
# 2700 times each by random oversampling): does the lead keep growing with the budget?
PROFILES["cpu-longer"] = PROFILES["cpu"] | {"epochs": 27}

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


def make_classifier(name: str, channels: int, n_classes: int, seed: int) -> nn.Module:
    """The profile's classifier with weights drawn from ``seed``.

    ``"resnet18"`` is torchvision's ResNet-18 with the small-image stem (3×3 stride-1
    first convolution, no max-pooling) and ``channels`` input channels.
    """
    generator = torch.Generator().manual_seed(seed)
    if name == "small-cnn":
        return SmallCNN(channels, n_classes, generator=generator)
    model = resnet18(num_classes=n_classes)
    model.conv1 = nn.Conv2d(channels, 64, kernel_size=3, stride=1, padding=1, bias=False)
    model.maxpool = nn.Identity()
    return reset_parameters_(model, generator)
