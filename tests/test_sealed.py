"""Sealed market memory: no strategy can make the market writable, and a sweep notices if one changes it."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from adapters.sim import SimAdapter
from prometheus_sim.market import Market
from prometheus_sim.sealed import HAVE_MEMFD, Arena, is_sealed


@pytest.fixture(scope="module")
def market(default_spec):
    return Market.simulate(default_spec.with_horizon(40), seed=3, n_paths=3)


def _owners(arr):
    chain = [arr]
    while isinstance(chain[-1].base, np.ndarray):
        chain.append(chain[-1].base)
    return chain


def test_no_view_of_the_market_can_be_made_writable(market):
    snap = SimAdapter(market).snapshot(20)
    for name in ("open", "close", "volume", "onchain", "macro"):
        for arr in _owners(getattr(snap.history, name)):
            with pytest.raises(ValueError, match="cannot set WRITEABLE flag"):
                arr.flags.writeable = True
    buffer = _owners(snap.history.open)[-1].base
    assert memoryview(buffer).readonly
    with pytest.raises(TypeError):
        memoryview(buffer)[0] = 0
    assert all(is_sealed(a) for a in market.named_arrays().values())
    assert is_sealed(market.truth.shock_jump)
    # the calendar too: a strategy moved every date by 15 days through it, and the contributions with them
    for arr in _owners(snap.history.calendar._data._ndarray):
        with pytest.raises(ValueError, match="cannot set WRITEABLE flag"):
            arr.flags.writeable = True
    assert is_sealed(np.asarray(market.calendar.values))


def test_loaded_cut_and_unpickled_markets_are_sealed_too(market, tmp_path):
    loaded = Market.load(market.save(tmp_path / "m"))
    cut = market.head(10)
    copied = pickle.loads(pickle.dumps(market))
    for m in (loaded, cut, copied):
        assert all(is_sealed(a) for a in m.named_arrays().values())
        assert is_sealed(np.asarray(m.calendar.values)) and m.calendar.equals(market.calendar[: m.n_steps])
        assert m.calendar.freq == market.calendar.freq is not None  # calendar.shift(1) needs it
        assert m.calendar.shift(1)[0] == m.calendar[1]
    cut = market.observable_head(10)  # the lookahead's cut: no scenario, the declared sizes kept (they order assets)
    assert cut.spec is None and cut.truth is None and cut.asset_sizes == market.asset_sizes is not None
    assert copied.digest() == market.digest() == loaded.digest()
    # a cut owns its memory: nothing under its views reaches the uncut data
    assert (
        all(o.size <= cut.close.size * 8 for o in _owners(cut.close))
        and _owners(cut.close)[-1].size < market.close.size
    )


@pytest.mark.skipif(not HAVE_MEMFD, reason="sealing in place needs memfd (Linux); elsewhere it copies")
def test_sealing_copies_nothing():
    """The peak resident memory does not grow by the array's size when it is sealed: the pages are reused."""
    from pathlib import Path

    def status(key: str) -> int:
        line = next(x for x in Path("/proc/self/status").read_text().splitlines() if x.startswith(key))
        return int(line.split()[1]) * 1024

    arena = Arena({"x": ((8, 1024, 1024), np.float64)})  # 64 MiB
    view = arena.arrays["x"]
    view[:] = 2.0
    del view
    Path("/proc/self/clear_refs").write_text("5")  # reset the high-water mark to the current RSS
    before = status("VmRSS")
    sealed = arena.seal()["x"]
    assert float(sealed[:, 0, 0].sum()) == 16.0 and sealed.sum() == 2.0 * sealed.size
    grew = status("VmHWM") - before
    assert grew < 16 * 2**20, f"sealing grew the peak by {grew / 2**20:.0f} MiB: it copied"


def test_rows_written_by_the_file_land_where_the_array_says():
    arena = Arena({"a": ((5, 3, 2), np.float64), "b": ((5, 4), np.int8)})
    arena.write_rows("a", 1, np.full((2, 3, 2), 7.0))
    arena.write_rows("a", 4, np.arange(6.0).reshape(1, 3, 2))
    arena.write_rows("b", 0, np.ones((5, 4), np.int8))
    sealed = arena.seal()
    assert (sealed["a"][1:3] == 7.0).all() and (sealed["a"][4].ravel() == np.arange(6.0)).all()
    assert (sealed["a"][0] == 0).all() and (sealed["a"][3] == 0).all() and (sealed["b"] == 1).all()


@pytest.mark.parametrize(
    "rows, first",
    [
        (np.zeros((2, 3, 2), np.float32), 0),
        (np.zeros((2, 3, 3)), 0),
        (np.zeros((2, 3, 2)), 4),
        (np.zeros((1, 3, 2)), -1),
    ],
    ids=["dtype", "shape", "past the end", "negative row"],
)
def test_rows_that_do_not_fit_are_refused_by_name(rows, first):
    arena = Arena({"a": ((5, 3, 2), np.float64)})
    with pytest.raises(ValueError, match=r"rows of 'a' must be float64 shaped \(k, 3, 2\) within its 5 rows"):
        arena.write_rows("a", first, rows)


def test_runs_of_elements_not_cut_at_rows_land_in_order_and_bad_ones_are_refused():
    arena = Arena({"a": ((4, 3), np.float64)})
    arena.write_elements(
        "a", 0, np.arange(5.0)
    )  # a run ending inside row 1 (a Parquet row group need not end at a row)
    arena.write_elements("a", 5, np.arange(5.0, 12.0))
    for bad, start in ((np.zeros(2, np.float32), 0), (np.zeros(2), 11), (np.zeros(1), -1)):
        with pytest.raises(ValueError, match=r"elements of 'a' must be float64 within its 12"):
            arena.write_elements("a", start, bad)
    assert (arena.seal()["a"].ravel() == np.arange(12.0)).all()


def test_seal_copy_writes_a_strided_source_a_piece_at_a_time(monkeypatch):
    from prometheus_sim import sealed

    monkeypatch.setattr(sealed, "COPY_PIECE_BYTES", 3 * 5 * 8)  # three rows of the cut array a piece
    source = np.arange(7 * 9 * 2, dtype=np.float64).reshape(7, 9, 2)[:, :5, 1]  # rows of 5 strided values
    copies = sealed.seal_copy({"cut": source, "scalar": np.array(2.5)})
    np.testing.assert_array_equal(copies["cut"], source)
    assert copies["scalar"] == 2.5 and is_sealed(copies["cut"])


def test_a_writable_view_left_behind_stops_sealing():
    arena = Arena({"x": ((4,), np.float64)})
    keep = arena.arrays["x"]
    if HAVE_MEMFD:
        with pytest.raises(RuntimeError, match="writable view"):
            arena.seal()
    assert keep.flags.writeable


class Tamperer:
    """Writes into the market through its snapshot, when the market lets it."""

    name = "tamperer"
    decision_every_days = 10

    def decide_batch(self, snapshots):
        from prometheus_sim.portfolio import OrderBatch

        owner = _owners(snapshots.history.open)[-1]
        if owner.flags.writeable:
            owner[...] *= 0.8
        return OrderBatch.hold(snapshots.n_users, len(snapshots.assets))


def test_a_sweep_names_a_strategy_that_changed_the_market(monkeypatch, tmp_path):
    """With sealing switched off, the digest check after each strategy still catches the change."""
    import prometheus_sim.generators as generators
    from prometheus_sim.cli import simulated_wiring
    from prometheus_sim.sweep import SweepConfig, run_sweep
    from strategies import registry
    from tests.conftest import SCENARIOS

    monkeypatch.setattr(generators.Arena, "seal", lambda self: self.arrays)  # leave the arrays writable
    monkeypatch.setattr(Market, "_freeze", lambda self, copy=False: None)
    with registry.registered("tamperer", Tamperer):
        cfg = SweepConfig(scenarios=(str(SCENARIOS / "default.yaml"),), seeds=(1, 2), strategies=("tamperer", "hold"),
                          horizon_days=30)  # fmt: skip
        outcome = run_sweep(cfg, tmp_path / "t", simulated_wiring())
    errors = {f["strategy"]: f["error"] for f in outcome.failures}
    assert "strategy 'tamperer' changed the market's data" in errors["tamperer"]
    assert errors["hold"].startswith("RuntimeError: not run:")
    assert outcome.metrics.empty


def test_a_read_only_buffer_that_can_still_change_is_not_sealed(market, tmp_path):
    """A read-only mapping of a file and a read-only view of a bytearray were taken as sealed, so a market built on
    them with copy=False changed when the file was rewritten (review of 2026-12-05)."""
    close = np.ascontiguousarray(market.blocks.close[:1])
    np.save(tmp_path / "close.npy", close)
    mapped = np.load(tmp_path / "close.npy", mmap_mode="r")
    backing = bytearray(close.tobytes())
    viewed = np.frombuffer(memoryview(backing).toreadonly(), dtype=close.dtype).reshape(close.shape)
    assert not is_sealed(mapped) and not is_sealed(viewed)
    assert all(is_sealed(a) for a in market.named_arrays().values())
    blocks = market.rows(slice(0, 1)).blocks._replace(close=mapped)
    built = Market.from_bars("bars", market.assets, market.asset_kinds, market.calendar, blocks, {}, copy=False)
    before = built.close[0, 0, 0]
    np.save(tmp_path / "close.npy", close * 999.0)  # the file rewritten under the market
    assert built.close[0, 0, 0] == before and is_sealed(built.close)
