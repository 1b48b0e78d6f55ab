"""Model adapters: the only code that turns a model name into (model, tokenizer)."""
