"""The latent space: k nearest neighbours with torch or KeOps (neighbors.py, keops.py), SMOTE
draws (smote.py), borrowed variations (variations.py) and the fitted index a DeepSMOTE
draws and renders images from (index.py)."""
