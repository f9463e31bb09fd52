"""hepsqueeze.codec."""
