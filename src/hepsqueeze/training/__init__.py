"""hepsqueeze.training."""
