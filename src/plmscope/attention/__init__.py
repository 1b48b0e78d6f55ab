"""Attention extraction: thresholding per batch and the Parquet attention dataset."""
