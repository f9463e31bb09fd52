"""hepsqueeze.models."""
