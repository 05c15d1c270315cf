"""DeepSMOTE oversampling for imbalanced image data sets in PyTorch.

Importing the package does no work: pykeops, matplotlib and data files are only
touched when a function that needs them runs.
"""

from .autoencoder import ConvAutoencoder
from .dataset import DeepSMOTEDataset
from .metrics import imbalanced_report
from .neighbors import kneighbors
from .oversampler import INTERPOLATION_SETTINGS, PAPER_SETTINGS, DeepSMOTE
from .sampler import BalancedBatchSampler
from .smote import smote_interpolate
from .training import fit_autoencoder

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
