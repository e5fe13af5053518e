"""Models: recurrent networks, their Lightning training recipe, estimators and baselines."""
