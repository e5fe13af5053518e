"""Names of the training tasks and losses (kept apart from Lightning so estimators import fast)."""

TASKS = ("regression", "quantile", "direction", "event")
CLASSIFY_TASKS = ("direction", "event")
LOSSES = ("mse", "mae", "huber")
