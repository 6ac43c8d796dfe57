"""The Optuna layer: conditional search space, trial objective, study life cycle, summary."""
