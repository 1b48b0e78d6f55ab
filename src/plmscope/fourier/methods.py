"""The name -> estimator table matched by the config schema's ``enum`` of Fourier methods."""

from __future__ import annotations

from plmscope.fourier.base import Estimator
from plmscope.fourier.baselines import LassoFourier, RidgeFourier
from plmscope.fourier.exact import ExactTransform
from plmscope.fourier.hierarchical import HierarchicalOneHot
from plmscope.fourier.proxy import ProxyTrees
from plmscope.fourier.qsft import QSFT, QSFTPaper
from plmscope.fourier.residual import ResidualQSFT
from plmscope.fourier.shapiq_peers import SPEX, ProxySPEX

METHODS: dict[str, type[Estimator]] = {
    cls.name: cls
    for cls in (
        ExactTransform, QSFT, QSFTPaper, LassoFourier, RidgeFourier, HierarchicalOneHot, ProxyTrees, ResidualQSFT,
        SPEX, ProxySPEX,
    )
}
