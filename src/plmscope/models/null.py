"""Null model: the same architecture and tokenizer with freshly initialised random weights."""

from __future__ import annotations

import logging

import torch

from plmscope.errors import PlmscopeError
from plmscope.models.base import AttentionAdapter

log = logging.getLogger(__name__)

_FLAG = "_is_hf_initialized"
"""transformers marks loaded modules and tensors with this flag; its init functions skip them."""


def reinitialise(adapter: AttentionAdapter, *, seed: int, std: float | None = None) -> AttentionAdapter:
    """Replace the model's weights, in place, by a new draw of its own transformers initialisation.

    The pretrained weights are discarded: every module goes through the model class's
    ``_init_weights`` again (``model.init_weights()``) under ``torch.manual_seed(seed)``, so the
    same seed gives the same weights. transformers skips modules it has loaded from a checkpoint;
    those marks are cleared first. Tokenizer, architecture and adapter behaviour are unchanged,
    so the adapter still encodes and returns attention as before.

    Args:
        adapter: a loaded adapter (:func:`plmscope.models.registry.load_adapter`); modified.
        seed: torch seed of the new weights.
        std: standard deviation of the normal initialisation of linear and embedding weights
            (``config.initializer_range``, restored afterwards); None keeps the model's own value
            (0.02 for BERT and ESM), which gives near-uniform attention.

    Returns:
        The same adapter, in eval mode, with ``name`` suffixed by ``" (random weights, seed N)"``.

    Raises:
        PlmscopeError: ``std`` is not positive, or the model has no ``init_weights``.
    """
    model = adapter.model
    if std is not None and not float(std) > 0:
        raise PlmscopeError(f"random-weights std must be positive, got {std!r}")
    if not callable(getattr(model, "init_weights", None)):
        raise PlmscopeError(f"model {adapter.name!r} has no init_weights(); cannot draw random weights")
    before = {name: _fingerprint(p) for name, p in model.named_parameters()}
    for module in model.modules():
        if hasattr(module, _FLAG):
            delattr(module, _FLAG)
        for tensor in [*module.parameters(recurse=False), *module.buffers(recurse=False)]:
            if tensor is not None and hasattr(tensor, _FLAG):
                delattr(tensor, _FLAG)
    config = model.config
    saved = getattr(config, "initializer_range", None)
    try:
        if std is not None:
            config.initializer_range = float(std)
        with torch.no_grad():
            torch.manual_seed(int(seed))
            model.init_weights()
    finally:
        if std is not None:
            config.initializer_range = saved
    model.eval()
    # A tensor still holding the same non-constant values was not redrawn (pretrained weights would
    # leak into the null model); constant tensors (norm scales of 1, zero biases) equal their init.
    kept = [
        name for name, p in model.named_parameters()
        if torch.equal(_fingerprint(p), before[name]) and p.numel() > 1 and bool(p.detach().amin() != p.detach().amax())
    ]  # fmt: skip
    if kept:
        log.warning(
            "model %r: %d of %d parameter tensors kept their values through re-initialisation (e.g. %r)",
            adapter.name, len(kept), len(before), kept[0],
        )  # fmt: skip
    adapter.name = f"{adapter.name} (random weights, seed {int(seed)})"
    return adapter


def _fingerprint(tensor: torch.Tensor) -> torch.Tensor:
    """A cheap copy that changes when the tensor is redrawn: its first 64 values and its sum."""
    flat = tensor.detach().reshape(-1)
    return torch.cat([flat[:64].float(), flat.float().sum().reshape(1)]).cpu().clone()
