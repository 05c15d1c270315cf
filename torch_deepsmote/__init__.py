"""DeepSMOTE oversampling for imbalanced image data sets in PyTorch.

Importing the package does no work: pykeops and data files are only touched when a
function that needs them runs, and the evaluation extras (scikit-learn,
imbalanced-learn, scipy, matplotlib) are never imported by it.
"""

from torch_deepsmote.data.dataset import DeepSMOTEDataset
from torch_deepsmote.data.sampler import BalancedBatchSampler
from torch_deepsmote.latent.neighbors import kneighbors
from torch_deepsmote.latent.smote import smote_interpolate
from torch_deepsmote.nn.autoencoder import ConvAutoencoder
from torch_deepsmote.nn.training import fit_autoencoder
from torch_deepsmote.oversampler import DeepSMOTE
from torch_deepsmote.recipes import RECIPES, Recipe

__all__ = [
    "BalancedBatchSampler",
    "ConvAutoencoder",
    "DeepSMOTE",
    "DeepSMOTEDataset",
    "RECIPES",
    "Recipe",
    "fit_autoencoder",
    "kneighbors",
    "smote_interpolate",
]

__version__ = "1.0.0"
