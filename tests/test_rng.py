"""The counter-based generator: known-answer vectors, distributions, independence of streams."""

from __future__ import annotations

import numpy as np
import pytest
from numba import njit
from scipy import stats

from prometheus_sim.rng import (
    ZIG_ACCEPT,
    leading_uniforms_nb,
    normal_at_nb,
    normals_run_nb,
    philox4x32_nb,
    poisson_nb,
    seed_key,
    uniform_at_nb,
)

# Known-answer vectors of Philox4x32-10 from the Random123 distribution (kat_vectors).
KAT = [
    ((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
    ((0xFFFFFFFF,) * 4, (0xFFFFFFFF, 0xFFFFFFFF), (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
    (
        (0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344),
        (0xA4093822, 0x299F31D0),
        (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1),
    ),
]


@pytest.mark.parametrize(("ctr", "key", "expected"), KAT)
def test_philox_matches_random123_known_answers(ctr, key, expected):
    got = philox4x32_nb(*ctr, *key)
    assert tuple(int(w) for w in got) == expected


@njit(cache=True)
def _normals(seed_lo, seed_hi, blocks, per_block, stream):
    """``blocks`` runs of ``per_block`` quads each, concatenated (as the engine draws them)."""
    out = np.empty(blocks * per_block * 4)
    words = np.empty(per_block * 4, dtype=np.uint64)
    buf = np.empty(per_block * 4)
    for b in range(blocks):
        normals_run_nb(seed_lo, seed_hi, 3, stream, b * per_block, per_block, words, buf)
        out[b * per_block * 4 : (b + 1) * per_block * 4] = buf
    return out


@njit(cache=True)
def _uniforms(blocks, per_block):
    """``blocks`` runs of ``per_block`` x 4 consecutive quads' first words, concatenated."""
    out = np.empty(blocks * per_block * 4)
    buf = np.empty(per_block * 4)
    for b in range(blocks):
        leading_uniforms_nb(5, 6, 0, 1, b * per_block * 4, per_block * 4, 1, buf)
        out[b * per_block * 4 : (b + 1) * per_block * 4] = buf
    return out


def test_ziggurat_normals_have_normal_moments_and_tails():
    z = _normals(1, 2, 20_000, 25, 0)  # 2 million draws
    n = z.size
    assert abs(z.mean()) < 5 / np.sqrt(n)
    assert abs(z.var() - 1.0) < 5 * np.sqrt(2 / n)
    assert abs(stats.kurtosis(z)) < 5 * np.sqrt(24 / n)
    assert abs(stats.skew(z)) < 5 * np.sqrt(6 / n)
    # the tail beyond the base layer's edge R = 3.654 is drawn by the slow path: check its mass
    for cut in (1.0, 2.0, 3.0, 3.7, 4.0):
        expected = 2 * stats.norm.sf(cut)
        got = np.mean(np.abs(z) > cut)
        assert abs(got - expected) < 6 * np.sqrt(expected / n) + 1e-7, cut
    # Kolmogorov-Smirnov on a subsample
    assert stats.kstest(z[:200_000], "norm").pvalue > 1e-3


def test_uniforms_are_in_the_open_unit_interval_and_flat():
    u = _uniforms(10_000, 25)
    assert u.min() > 0.0 and u.max() < 1.0
    counts, _ = np.histogram(u, bins=20, range=(0, 1))
    assert stats.chisquare(counts).pvalue > 1e-4


def test_streams_and_seeds_are_independent():
    a = _normals(1, 2, 4_000, 25, 0)
    b = _normals(1, 2, 4_000, 25, 1)
    c = _normals(2, 2, 4_000, 25, 0)
    for x, y in ((a, b), (a, c)):
        assert abs(np.corrcoef(x, y)[0, 1]) < 5 / np.sqrt(a.size)
        assert not np.array_equal(x, y)


def test_runs_do_not_depend_on_how_they_are_split():
    whole = _normals(1, 2, 1, 600, 0)
    np.testing.assert_array_equal(whole, _normals(1, 2, 24, 25, 0))  # the same quads in 24 runs
    # quad q, word r is normal_at(counter q, lane 0, index r): the slow path's extra words agree too
    misses = 0
    for j in range(2400):
        assert normal_at_nb(1, 2, j // 4, 3, 0, j % 4) == whole[j]
        misses += abs(whole[j]) > 3.0
    assert misses > 0


@pytest.mark.parametrize("lam", [0.3, 4.0, 25.0, 120.0, 900.0])
def test_poisson_draws_match_the_distribution(lam):
    @njit
    def draw(n, lam):
        out = np.empty(n, dtype=np.int64)
        for i in range(n):
            out[i] = poisson_nb(lam, 9, 9, i, 1, 6)
        return out

    x = draw(60_000, lam)
    assert x.min() >= 0
    assert abs(x.mean() - lam) < 5 * np.sqrt(lam / x.size)
    assert abs(x.var() / lam - 1.0) < 5 * np.sqrt(2 / x.size) + 0.01
    if lam < 30:
        ks = np.arange(int(lam + 6 * np.sqrt(lam)) + 2)
        observed = np.bincount(x, minlength=ks.size)[: ks.size]
        expected = stats.poisson.pmf(ks, lam) * x.size
        keep = expected > 20
        assert np.all(np.abs(observed[keep] - expected[keep]) < 6 * np.sqrt(expected[keep]))


def test_seed_key_rejects_out_of_range_seeds():
    assert seed_key(2**64 - 1) == (0xFFFFFFFF, 0xFFFFFFFF)
    with pytest.raises(ValueError, match="seed"):
        seed_key(-1)
    with pytest.raises(ValueError, match="seed"):
        seed_key(2**64)


def test_a_run_of_normals_is_each_draw_alone_misses_included():
    """The run's fast pass marks the ziggurat's misses with NaN and a second pass redraws them: every value must be
    the one :func:`normal_at_nb` draws alone (its own miss handling), and none left NaN."""
    n_quads = 500
    words = np.empty(4 * n_quads, dtype=np.uint64)
    run = np.empty(4 * n_quads)
    normals_run_nb(11, 12, 7, 0, 100, n_quads, words, run)
    alone = np.array([normal_at_nb(11, 12, 100 + j // 4, 7, 0, j % 4) for j in range(4 * n_quads)])
    assert not np.isnan(run).any()
    assert np.array_equal(run, alone)
    # the run went through the slow path: about 1.5 % of its words missed the fast one
    missed = (words >> np.uint64(9)) >= ZIG_ACCEPT[(words & np.uint64(0xFF)).astype(np.int64)]
    assert 5 <= missed.sum() <= 100


@pytest.mark.parametrize(("first", "stride"), [(0, 1), (6, 2), (31, 16)])
def test_leading_uniforms_are_the_first_word_of_each_strided_quad(first, stride):
    n = 40
    out = np.empty(n)
    leading_uniforms_nb(5, 6, 3, 2, first, n, stride, out)
    alone = np.array([uniform_at_nb(5, 6, first + i * stride, 3, 2, 0) for i in range(n)])
    assert np.array_equal(out, alone)
    assert len(np.unique(out)) == n  # distinct quads, not one value repeated
