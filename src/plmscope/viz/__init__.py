"""Figures (matplotlib) and 3D views."""
