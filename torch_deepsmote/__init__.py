"""DeepSMOTE oversampling for imbalanced image data sets in PyTorch.

Importing the package does no work: pykeops, matplotlib and data files are only
touched when a function that needs them runs.
"""

from .autoencoder import ConvAutoencoder
from .oversampler import DeepSMOTE
from .smote import smote_interpolate
from .training import fit_autoencoder
from .neighbors import kneighbors

__all__ = [
    "ConvAutoencoder",
    "DeepSMOTE",
    "fit_autoencoder",
    "kneighbors",
    "smote_interpolate",
]

__version__ = "0.1.0"
