"""hepsqueeze.datasets."""
