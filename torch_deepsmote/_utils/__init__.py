"""Helpers written once for the whole package: validation, labels, sampling strategies, seeds,
the distributed context, verified files, warnings and estimator parameters."""
