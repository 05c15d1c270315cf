"""DeepSMOTE oversampling for imbalanced image data sets in PyTorch.

Importing the package does no work: pykeops, matplotlib and data files are only
touched when a function that needs them runs.
"""

from torch_deepsmote.nn.autoencoder import ConvAutoencoder
from torch_deepsmote.data.dataset import DeepSMOTEDataset
from torch_deepsmote.evaluation.metrics import imbalanced_report
from torch_deepsmote.latent.neighbors import kneighbors
from torch_deepsmote.oversampler import INTERPOLATION_SETTINGS, PAPER_SETTINGS, DeepSMOTE
from torch_deepsmote.data.sampler import BalancedBatchSampler
from torch_deepsmote.latent.smote import smote_interpolate
from torch_deepsmote.nn.training import fit_autoencoder

__all__ = [
    "BalancedBatchSampler",
    "ConvAutoencoder",
    "DeepSMOTE",
    "DeepSMOTEDataset",
    "INTERPOLATION_SETTINGS",
    "PAPER_SETTINGS",
    "imbalanced_report",
    "fit_autoencoder",
    "kneighbors",
    "smote_interpolate",
]

__version__ = "0.1.0"
