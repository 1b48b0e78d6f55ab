"""The name -> estimator table matched by the config schema's ``enum`` of Fourier methods."""

from __future__ import annotations

from plmscope.fourier.base import Estimator
from plmscope.fourier.baselines import LassoFourier, RidgeFourier
from plmscope.fourier.exact import ExactTransform
from plmscope.fourier.hierarchical import HierarchicalOneHot
from plmscope.fourier.proxy import ProxyTrees
from plmscope.fourier.qsft import QSFT
from plmscope.fourier.residual import ResidualQSFT

METHODS: dict[str, type[Estimator]] = {
    cls.name: cls
    for cls in (ExactTransform, QSFT, LassoFourier, RidgeFourier, HierarchicalOneHot, ProxyTrees, ResidualQSFT)
}
