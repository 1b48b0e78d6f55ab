"""Analyses over attention tables and protein tables (pure functions, no model objects)."""
