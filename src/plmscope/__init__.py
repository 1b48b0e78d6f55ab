"""plmscope: open up protein language models (attention vs. structure, higher-order interactions)."""

__version__ = "0.1.0"
