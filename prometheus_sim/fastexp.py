"""``exp_nb``: the simulator's own exponential, branch-free so LLVM can inline and vectorise it.

Why not ``math.exp``: in a Numba kernel it is a call into the C library, which LLVM can neither
vectorise (this machine kind has no SVML) nor fold into the surrounding code, and the kernel
made about 4.5 of them per asset-step (a bar's open, high, low and close, its volume, on-chain
flows and the dollar index): measured at about 45 of 133 ns per asset-step. A second reason is
bit-identity: the simulator promises the same bytes on any machine, and the C library's ``exp``
differs between library versions. This one is plain IEEE-754 arithmetic (add, multiply, a
table read, integer and bit moves) on constants computed without the C library (Python's
``decimal``, correctly rounded), so it gives the same bits wherever the kernel runs. (The kernel
still calls libm in a few rare or once-a-run places: the ziggurat's wedge and tail, about 1.5 %
of normals; Poisson draws; a peg's OU constants.)

Method (Tang's table-driven exp, as in most libms): ``x = (64 m + j) ln2/64 + r`` with
``|r| <= ln2/128``; ``exp(x) = 2^m * 2^(j/64) * exp(r)``, ``exp(r) - 1`` by a degree-5
polynomial (its truncation error, at most 3.5e-17, is under a third of an ulp). The scale
``2^m`` is built from exponent bits in two halves, so results in the subnormal range and
overflow to ``inf`` come out right without a branch. Accuracy: within 1 ulp of the correctly
rounded value over the whole double range (``tests/test_fastexp.py`` checks it against
``decimal``'s correctly rounded exp).
"""

from __future__ import annotations

import decimal

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

_TABLE_BITS = 6
_TABLE_SIZE = 1 << _TABLE_BITS


def _decimal_constants() -> tuple[np.ndarray, float]:
    """2^(j/64) for j = 0..63 and 64/ln2, each the double nearest the exact value, without the C library."""
    with decimal.localcontext() as ctx:
        ctx.prec = 40
        ln2 = decimal.Decimal(2).ln()
        table = np.array([float((ln2 * j / _TABLE_SIZE).exp()) for j in range(_TABLE_SIZE)])
        return table, float(_TABLE_SIZE / ln2)


EXP2_TABLE, _INV_STEP = _decimal_constants()
# ln2/64 in two parts (fdlibm's split of ln2, divided by 64: exact): the high part ends in 21 zero bits,
# so k x _STEP_HI is exact for every k the clamp allows, and the low part carries ln2 past double precision
_STEP_HI = 6.93147180369123816490e-01 / _TABLE_SIZE
_STEP_LO = 1.90821492927058770002e-10 / _TABLE_SIZE
# exp(x) overflows above 709.79 and is 0 below -745.14: clamping just outside keeps k inside int64
# and lets the scale produce inf and 0 (and every subnormal in between) by itself
_X_MAX = 710.0
_X_MIN = -746.0
_ROUND_SHIFT = 1.5 * 2.0**52
_ROUND_SHIFT_BITS = int(np.array([_ROUND_SHIFT]).view(np.int64)[0])


@intrinsic
def _float64_from_bits(typingctx, bits):
    """Reinterpret an int64's bits as a float64 (LLVM ``bitcast``; Numba has no scalar view)."""
    if not isinstance(bits, types.Integer) or bits.bitwidth != 64:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())

    return types.float64(bits), codegen


@intrinsic
def _bits_of_float64(typingctx, value):
    """The bits of a float64 as an int64 (the inverse of :func:`_float64_from_bits`)."""
    if not isinstance(value, types.Float) or value.bitwidth != 64:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(64))

    return types.int64(value), codegen


@njit(cache=True, inline="always")
def _pow2_nb(m):
    """2.0 ** m for -1022 <= m <= 1023, from its exponent bits."""
    return _float64_from_bits((m + 1023) << 52)


@njit(cache=True, error_model="numpy", _nrt=False)
def exp_nb(x):
    """e ** x in float64, within 1 ulp, inf above 709.78, 0 below -745.13, NaN for NaN."""
    xc = min(max(x, _X_MIN), _X_MAX)  # NaN stays NaN and flows through to the result
    # k = round(x 64 / ln2) without a round or a float-to-int conversion on the way: adding 1.5 x 2^52
    # leaves k in the low bits of the sum, read off as an integer (the C library's trick)
    shifted = xc * _INV_STEP + _ROUND_SHIFT
    k = _bits_of_float64(shifted) - _ROUND_SHIFT_BITS
    kf = shifted - _ROUND_SHIFT
    r = (xc - kf * _STEP_HI) - kf * _STEP_LO
    t = EXP2_TABLE[k & (_TABLE_SIZE - 1)]
    m = k >> _TABLE_BITS
    half = m >> 1
    # exp(r) - 1 to degree 5 in Estrin's form: three levels of multiply-add instead of Horner's five,
    # which shortens the chain a scalar call waits on
    r2 = r * r
    q = (r + r2 * (0.5 + r * (1.0 / 6.0))) + (r2 * r2) * ((1.0 / 24.0) + r * (1.0 / 120.0))
    # the table index is masked, so even a NaN's meaningless k reads inside the table
    return (t + t * q) * _pow2_nb(half) * _pow2_nb(m - half)


__all__ = ["EXP2_TABLE", "exp_nb"]
