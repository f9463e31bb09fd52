"""hepsqueeze.preprocessing."""
