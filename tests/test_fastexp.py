"""The simulator's own exp: within 1 ulp of the correctly rounded value everywhere, exact specials,
the same bits in vector lanes as in a scalar call."""

from __future__ import annotations

import decimal
import math
import re

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


def _correctly_rounded(x: np.ndarray) -> np.ndarray:
    """e ** x rounded once to the nearest double (``decimal``'s exp is correctly rounded; 40 digits)."""
    with decimal.localcontext() as ctx:
        ctx.prec = 40
        ctx.Emin, ctx.Emax = -999_999, 999_999
        return np.array([float(decimal.Decimal(float(v)).exp()) for v in x])


def _ulps(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Distance in units in the last place between non-negative doubles."""
    return np.abs(a.view(np.int64) - b.view(np.int64))


@pytest.mark.parametrize("low, high", [(-1e-12, 1e-12), (-1.0, 1.0), (-50.0, 50.0), (-700.0, 709.0),
                                       (-745.0, -708.0), (709.0, 709.78)])  # fmt: skip
def test_within_one_ulp_of_the_correctly_rounded_value_over_the_whole_double_range(low, high):
    x = np.random.default_rng(3).uniform(low, high, 4_000)
    ours = np.empty_like(x)
    _exp_array(x, ours)
    # a plain Taylor series, or a reduction with ln2 rounded once, drifts to hundreds of ulps at |x| ~ 700
    assert _ulps(ours, _correctly_rounded(x)).max() <= 1


def test_special_values_and_the_ends_of_the_range():
    cases = [(0.0, 1.0), (-0.0, 1.0), (math.inf, math.inf), (-math.inf, 0.0), (710.0, math.inf), (-746.0, 0.0),
             (1e300, math.inf), (-1e300, 0.0), (1.0, math.e)]  # fmt: skip
    for x, expected in cases:
        assert _exp_one(x) == expected, x
    assert math.isnan(_exp_one(math.nan))
    largest = math.log(np.finfo(np.float64).max)  # within an ulp of the largest x whose exp is finite
    ends = np.array([np.nextafter(largest, -math.inf), largest, -745.1332191019411, -745.0, -708.5])
    for x, exact in zip(ends, _correctly_rounded(ends), strict=True):
        assert _ulps(np.array([_exp_one(x)]), np.array([exact]))[0] <= 1, x
    assert _exp_one(-745.1332191019411) == 5e-324  # the smallest subnormal
    assert _exp_one(np.nextafter(-745.1332191019411, -math.inf)) == 0.0
    assert _exp_one(709.79) == math.inf


def test_vector_lanes_give_the_same_bits_as_the_scalar_call():
    """The bit-identity promise: a value's exp does not depend on whether LLVM vectorised the loop around it."""

    @njit  # not cached, so its machine code can be read
    def exp_array(x, out):
        for j in range(x.size):
            out[j] = exp_nb(x[j])

    x = np.random.default_rng(4).normal(0.0, 30.0, 1_003)  # not a multiple of any vector width: a scalar tail
    lanes = np.empty_like(x)
    exp_array(x, lanes)
    asm = next(iter(exp_array.inspect_asm().values()))
    assert re.search(r"\bv?mulpd\b", asm), "the loop was not vectorised: the test would compare scalar with scalar"
    one_at_a_time = np.array([_exp_one(v) for v in x])
    assert lanes.tobytes() == one_at_a_time.tobytes()
