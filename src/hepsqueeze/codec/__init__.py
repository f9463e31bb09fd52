"""Transitional: being replaced by hepsqueeze.file and hepsqueeze.codecs."""
