"""Sparse Fourier transforms of functions over Z_q^n (q-SFT, exact FFT, regression baselines)."""

from plmscope.fourier import metrics
from plmscope.fourier.base import Estimator
from plmscope.fourier.coefficients import FourierCoefficients
from plmscope.fourier.landscape import Landscape, QueryCache
from plmscope.fourier.methods import METHODS
from plmscope.fourier.planted import PlantedFunction, planted_sparse_function
from plmscope.fourier.recover import Recovery, recover
from plmscope.fourier.transform import all_points, evaluate, forward_transform, inverse_transform, order

__all__ = [
    "METHODS",
    "Estimator",
    "FourierCoefficients",
    "Landscape",
    "PlantedFunction",
    "QueryCache",
    "Recovery",
    "all_points",
    "evaluate",
    "forward_transform",
    "inverse_transform",
    "metrics",
    "order",
    "planted_sparse_function",
    "recover",
]
