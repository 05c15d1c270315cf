"""The data layer: `DeepSMOTEDataset` (dataset.py), `BalancedBatchSampler` (sampler.py), raw
items and their formats (items.py, reading.py) and the pretrain-once cache (cache.py)."""
