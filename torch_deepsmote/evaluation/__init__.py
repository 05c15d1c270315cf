"""Evaluation, behind the `demo` extra: the small classifier, metrics, plots, data-set readers,
the comparison protocol and the demo. `import torch_deepsmote` never imports this package."""
