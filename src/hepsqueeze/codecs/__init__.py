"""Codecs: how one chunk of a table's columns becomes payload sections and back."""
