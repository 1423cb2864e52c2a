"""The simulator's own exp: within 1 ulp of the C library's everywhere, exact specials, same bits in vector lanes."""

from __future__ import annotations

import math

import numpy as np
import pytest
from numba import njit

from prometheus_sim.fastexp import exp_nb


@njit(cache=True)
def _exp_array(x, out):
    """A loop LLVM vectorises: exp_nb runs in SIMD lanes here."""
    for j in range(x.size):
        out[j] = exp_nb(x[j])


@njit(cache=True)
def _exp_one(x):
    return exp_nb(x)


def _ulps(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Distance in units in the last place between finite doubles of the same sign."""
    return np.abs(a.view(np.int64) - b.view(np.int64))


@pytest.mark.parametrize("low, high", [(-1e-12, 1e-12), (-1.0, 1.0), (-50.0, 50.0), (-700.0, 709.0),
                                       (-745.0, -708.0), (709.0, 709.78)])  # fmt: skip
def test_within_one_ulp_of_the_c_library_over_the_whole_double_range(low, high):
    x = np.random.default_rng(3).uniform(low, high, 200_000)
    ours = np.empty_like(x)
    _exp_array(x, ours)
    libm = np.exp(x)
    assert _ulps(ours, libm).max() <= 1
    # a plain Taylor series would drift to thousands of ulps at |x| ~ 700: the reduction is exact
    assert np.all(np.isfinite(ours)) and np.all(ours >= 0.0)


def test_special_values_are_exact():
    cases = [(0.0, 1.0), (-0.0, 1.0), (math.inf, math.inf), (-math.inf, 0.0), (710.0, math.inf), (-746.0, 0.0),
             (1e300, math.inf), (-1e300, 0.0), (1.0, math.e)]  # fmt: skip
    for x, expected in cases:
        assert _exp_one(x) == expected, x
    assert math.isnan(_exp_one(math.nan))
    assert _exp_one(-745.1) == 5e-324  # the smallest subnormal, rounded right
    assert _exp_one(709.78) == math.exp(709.78)


def test_vector_lanes_give_the_same_bits_as_the_scalar_call():
    """The bit-identity promise: a value's exp does not depend on whether LLVM vectorised the loop around it."""
    x = np.random.default_rng(4).normal(0.0, 30.0, 1_003)  # not a multiple of any vector width: a scalar tail
    lanes = np.empty_like(x)
    _exp_array(x, lanes)
    one_at_a_time = np.array([_exp_one(v) for v in x])
    assert lanes.tobytes() == one_at_a_time.tobytes()
