"""The networks: the DeepSMOTE autoencoder (autoencoder.py), its training loop with penalties,
checkpoints and the held-out stop (training.py, checkpoint.py, early_stopping.py), how its steps
run on each device (step_settings.py), the fit's
cost said before it trains (estimate.py), seeded initialisation (init.py) and the [-1, 1]
value range (ranges.py)."""
