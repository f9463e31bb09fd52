"""hepsqueeze.evaluation."""
