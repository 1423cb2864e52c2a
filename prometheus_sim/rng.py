"""Counter-based random numbers: Philox4x32-10 keyed by ``(seed, path, step, stream)``.

Why counter-based: a draw is a pure function of its coordinates, so a path's numbers do not
depend on how paths are split across threads, chunks or machines. Path 17 simulated alone is
bit-identical to path 17 inside a batch of 1,000, at any ``NUMBA_NUM_THREADS``.

Layout: the 64-bit seed is the Philox key; the 128-bit counter is ``(quad, path, stream, lane)``.
Each call yields four 32-bit words. The bulk streams (price, volume, jumps, macro, on-chain) give
every step a fixed number of quads, so quad ``step x quads_per_step + k`` belongs to exactly one
step and is generated in long vectorisable runs (:func:`normals_run_nb`). Rare draws (jump sizes,
Poisson attempts) use ``(step, path, stream, lane)`` in their own streams. The top bit of the
stream word is reserved for the extra words rejection samplers need, so those never collide.

Normals use a 256-layer ziggurat (Marsaglia & Tsang, 2000) driven by one 32-bit word each:
8 bits pick the layer, 1 bit the sign, 23 bits the abscissa. About 99 % of draws are accepted by
one compare and one multiply; the rest (wedges and the tail) draw fresh words from the reserved
counters. This is the cheap sampler that makes the simulator fast: Box-Muller would cost a log,
a sqrt and a sin/cos per pair. The price is a 23-bit abscissa grid inside each layer, far finer
than any statistic this package computes.

Everything here is a pure ``@njit`` function of integers and arrays.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

_U64 = np.uint64
_MASK32 = _U64(0xFFFFFFFF)
_SHIFT32 = _U64(32)
_PHILOX_M0 = _U64(0xD2511F53)
_PHILOX_M1 = _U64(0xCD9E8D57)
_PHILOX_W0 = _U64(0x9E3779B9)
_PHILOX_W1 = _U64(0xBB67AE85)
_EXTRA_BIT = _U64(0x80000000)
_TWO_M32 = 2.0**-32

# Stream identifiers: one per kind of draw, so adding a draw to one block never shifts another.
# NumPy integers, not Python ints: Numba types a Python int global as a literal, and a kernel
# passing it to another compiles that one once per value (five copies of the normal sampler and
# four of its vectorised run, about 2.5 s of a cold compile); an int64 global compiles once.
STREAM_PRICE = np.int64(0)
STREAM_VOLUME = np.int64(1)
STREAM_JUMP = np.int64(2)
STREAM_JUMP_SIZE = np.int64(3)
STREAM_ONCHAIN = np.int64(5)
STREAM_WHALE = np.int64(6)
STREAM_MACRO = np.int64(7)  # three macro normals per step; the quad's fourth word drives the regime chain


@njit(cache=True, inline="always")
def philox4x32_nb(c0, c1, c2, c3, k0, k1):
    """Philox4x32 with 10 rounds (Salmon et al., 2011). All values are uint64 holding uint32.

    The inputs are masked to 32 bits, which changes no value (every counter and key word the
    package passes is below 2**32: at most 2,000,000 steps x 1,024 quads a step, seeds split by
    :func:`seed_key`) but tells LLVM that each product fits 64 bits from the first round on, so a
    vectorised run multiplies 32 x 32 -> 64 bits (``vpmuludq``) instead of emulating a 64-bit
    product: 8 % less time a word in a run.
    """
    c0 = _U64(c0) & _MASK32
    c1 = _U64(c1) & _MASK32
    c2 = _U64(c2) & _MASK32
    c3 = _U64(c3) & _MASK32
    k0 = _U64(k0) & _MASK32
    k1 = _U64(k1) & _MASK32
    for _ in range(10):
        p0 = _PHILOX_M0 * c0
        p1 = _PHILOX_M1 * c2
        n0 = (p1 >> _SHIFT32) ^ c1 ^ k0
        n2 = (p0 >> _SHIFT32) ^ c3 ^ k1
        c1 = p1 & _MASK32
        c3 = p0 & _MASK32
        c0 = n0
        c2 = n2
        k0 = (k0 + _PHILOX_W0) & _MASK32
        k1 = (k1 + _PHILOX_W1) & _MASK32
    return c0, c1, c2, c3


def seed_key(seed: int) -> tuple[int, int]:
    """Split a 64-bit seed into the two 32-bit Philox key words (seeds up to 2**64 - 1)."""
    if not 0 <= seed < 2**64:
        raise ValueError(f"seed must be in [0, 2**64), got {seed}")
    return seed & 0xFFFFFFFF, seed >> 32


# ---------------------------------------------------------------- ziggurat tables

_ZIG_LAYERS = 256
_ZIG_R = 3.6541528853610088  # right edge of the base layer (Marsaglia & Tsang, 256 layers)
_ZIG_V = 0.00492867323399  # area of each layer
_ZIG_BITS = 23
_ZIG_SCALE = float(2**_ZIG_BITS)


def _ziggurat_tables() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Layer edges x_i, widths scaled to the 23-bit grid, acceptance bounds, and f(x_i)."""
    x = np.zeros(_ZIG_LAYERS + 1)
    f = np.zeros(_ZIG_LAYERS + 1)
    x[0] = _ZIG_V / math.exp(-0.5 * _ZIG_R * _ZIG_R)  # pseudo-width of the base strip + tail
    x[1] = _ZIG_R
    for i in range(2, _ZIG_LAYERS):
        x[i] = math.sqrt(-2.0 * math.log(_ZIG_V / x[i - 1] + math.exp(-0.5 * x[i - 1] ** 2)))
    x[_ZIG_LAYERS] = 0.0
    f = np.exp(-0.5 * x * x)
    width = x[:_ZIG_LAYERS] / _ZIG_SCALE
    accept = np.zeros(_ZIG_LAYERS, dtype=np.uint64)
    accept[0] = np.uint64(math.floor(_ZIG_SCALE * _ZIG_R / x[0]))
    for i in range(1, _ZIG_LAYERS):
        accept[i] = np.uint64(math.floor(_ZIG_SCALE * x[i + 1] / x[i]))
    return width, accept, f, x


ZIG_WIDTH, ZIG_ACCEPT, ZIG_F, ZIG_X = _ziggurat_tables()


@njit(cache=True, inline="always")
def uniform_from_word_nb(word):
    """Map a 32-bit word to a uniform in the open interval (0, 1)."""
    return (float(word) + 0.5) * _TWO_M32


@njit(cache=True, _nrt=False)
def _normal_slow_nb(word, k0, k1, c0, c1, c2, j):
    """Finish a ziggurat draw that missed the fast path, drawing fresh words as needed."""
    attempt = 0
    while True:
        layer = int(word & _U64(0xFF))
        negative = (word >> _U64(8)) & _U64(1)
        m = word >> _U64(9)
        x = float(m) * ZIG_WIDTH[layer]
        w0, w1, w2, w3 = philox4x32_nb(c0, c1, _U64(c2) | _EXTRA_BIT, (_U64(j) << _U64(8)) | _U64(attempt), k0, k1)
        attempt += 1
        if m < ZIG_ACCEPT[layer]:
            return -x if negative else x
        if layer == 0:
            # Tail beyond R (Marsaglia, 1964): exact, needs two uniforms.
            while True:
                xt = -math.log(uniform_from_word_nb(w1)) / _ZIG_R
                yt = -math.log(uniform_from_word_nb(w2))
                if yt + yt > xt * xt:
                    val = _ZIG_R + xt
                    return -val if negative else val
                w0, w1, w2, w3 = philox4x32_nb(
                    c0, c1, _U64(c2) | _EXTRA_BIT, (_U64(j) << _U64(8)) | _U64(attempt), k0, k1
                )
                attempt += 1
        # Wedge: accept x under the density with the remaining probability.
        if ZIG_F[layer + 1] + uniform_from_word_nb(w1) * (ZIG_F[layer] - ZIG_F[layer + 1]) < math.exp(-0.5 * x * x):
            return -x if negative else x
        word = w0


@njit(cache=True, inline="always", error_model="numpy")
def _normal_from_word_nb(word, k0, k1, c0, c1, c2, j):
    layer = int(word & _U64(0xFF))
    m = word >> _U64(9)
    if m < ZIG_ACCEPT[layer]:
        x = float(m) * ZIG_WIDTH[layer]
        # Branch-free sign: a random sign bit would mispredict half the time. x - 2x == -x exactly.
        return x - 2.0 * float((word >> _U64(8)) & _U64(1)) * x
    return _normal_slow_nb(word, k0, k1, c0, c1, c2, j)


@njit(cache=True, error_model="numpy", _nrt=False)
def normals_run_nb(k0, k1, path, stream, first, n_quads, words, out):
    """Normals of quads ``first .. first + n_quads - 1`` of the ``(path, stream)`` sequence.

    Quad q is Philox of counter ``(q, path, stream, 0)``: four words, four normals, written to
    ``out[4 (q - first) + r]``. Callers give each step a fixed number of quads, so a step's
    draws depend only on (seed, path, step, stream). The loops are straight-line on purpose: LLVM
    vectorises the Philox rounds and the ziggurat's fast path across quads, which makes a
    normal about 2 ns instead of 11 ns one at a time. The rare misses (about 1.5 %) are redone
    in a scalar pass with their own reserved counters.

    The fast pass leaves NaN where a draw missed (a select, no branch), so the pass that finds the
    misses compares each value with itself instead of looking its word's layer up again (in a loop
    of 20,000 runs of 320 quads: 0.22 -> 0.05 ns a normal; a draw is never NaN otherwise).

    ``words`` (uint64) and ``out`` (float64) need room for ``4 * n_quads`` values.
    """
    for q in range(n_quads):
        w0, w1, w2, w3 = philox4x32_nb(first + q, path, stream, 0, k0, k1)
        words[4 * q] = w0
        words[4 * q + 1] = w1
        words[4 * q + 2] = w2
        words[4 * q + 3] = w3
    n = 4 * n_quads
    for j in range(n):
        w = words[j]
        layer = w & _U64(0xFF)
        m = w >> _U64(9)
        x = float(m) * ZIG_WIDTH[layer]
        x = x - 2.0 * float((w >> _U64(8)) & _U64(1)) * x
        out[j] = x if m < ZIG_ACCEPT[layer] else math.nan
    for j in range(n):
        if out[j] != out[j]:
            out[j] = _normal_slow_nb(words[j], k0, k1, first + j // 4, path, stream, j % 4)


@njit(cache=True, error_model="numpy", _nrt=False)
def leading_uniforms_nb(k0, k1, path, stream, first, n, stride, out):
    """``out[i]``: the uniform of word 0 of quad ``first + i x stride`` of the ``(path, stream)`` sequence, i < n.

    For a stream that gives each step a block of ``stride`` quads of which a step reads only the
    first word (the jumps' arrival uniform): the same value :func:`uniform_at_nb` draws alone for
    that quad, without computing the block's other quads. (It replaced a run of whole quads, which
    computed seven unused words a step for five assets.)
    """
    for i in range(n):
        w0, w1, w2, w3 = philox4x32_nb(first + i * stride, path, stream, 0, k0, k1)
        out[i] = uniform_from_word_nb(w0)


@njit(cache=True, _nrt=False)
def normal_at_nb(k0, k1, step, path, stream, j):
    """The j-th normal of block ``(step, path, stream)``, alone; for j < 4 it is word j of quad ``step``
    in :func:`normals_run_nb`."""
    words = philox4x32_nb(step, path, stream, j // 4, k0, k1)
    r = j % 4
    word = words[0] if r == 0 else words[1] if r == 1 else words[2] if r == 2 else words[3]
    return _normal_from_word_nb(word, k0, k1, step, path, stream, j)


@njit(cache=True, _nrt=False)
def uniform_at_nb(k0, k1, step, path, stream, j):
    """The j-th uniform of block ``(step, path, stream)``, alone."""
    words = philox4x32_nb(step, path, stream, j // 4, k0, k1)
    r = j % 4
    word = words[0] if r == 0 else words[1] if r == 1 else words[2] if r == 2 else words[3]
    return uniform_from_word_nb(word)


@njit(cache=True, error_model="numpy", _nrt=False)
def poisson_inversion_nb(lam, p0, u):
    """Poisson(lam) by inversion from one uniform, given ``p0 = exp(-lam)``; for small ``lam`` (< 30)."""
    if u <= p0:
        return 0
    p = p0
    cdf = p
    k = 0
    while u > cdf and k < 1000:
        k += 1
        p *= lam / k
        cdf += p
    return k


@njit(cache=True, _nrt=False)
def poisson_nb(lam, k0, k1, step, path, stream):
    """Poisson(lam) from block ``(step, path, stream)``; exact for any ``lam``.

    Small means use inversion of one uniform; large means use Hormann's PTRS transformed
    rejection (the method NumPy uses), two uniforms per attempt, two attempts per Philox call.
    A mean that is not a number draws 0: PTRS would never accept (the simulator keeps means finite;
    this keeps a slip from hanging a run).
    """
    if lam != lam:
        return 0
    if lam < 10.0:
        # np.int64(0), not 0: a literal argument would compile uniform_at_nb a second time
        return poisson_inversion_nb(lam, math.exp(-lam), uniform_at_nb(k0, k1, step, path, stream, np.int64(0)))
    slam = math.sqrt(lam)
    b = 0.931 + 2.53 * slam
    a = -0.059 + 0.02483 * b
    vr = 0.9277 - 3.6224 / (b - 2.0)
    lane = 0
    while True:
        w0, w1, w2, w3 = philox4x32_nb(step, path, stream, lane, k0, k1)
        lane += 1
        for half in range(2):
            if half == 0:
                uu = uniform_from_word_nb(w0) - 0.5
                v = uniform_from_word_nb(w1)
            else:
                uu = uniform_from_word_nb(w2) - 0.5
                v = uniform_from_word_nb(w3)
            us = 0.5 - abs(uu)
            k = math.floor((2.0 * a / us + b) * uu + lam + 0.43)
            if us >= 0.07 and v <= vr:
                return int(k)
            if k < 0 or (us < 0.013 and v > us):
                continue
            # slow test (about 1 attempt in 7): the logs are only paid here
            invalpha = 1.1239 + 1.1328 / (b - 3.4)
            if (math.log(v) + math.log(invalpha) - math.log(a / (us * us) + b)) <= (
                -lam + k * math.log(lam) - math.lgamma(k + 1.0)
            ):
                return int(k)
