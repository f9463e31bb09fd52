"""Plots of reconstruction quality and data inspection (matplotlib, mplhep styling)."""
