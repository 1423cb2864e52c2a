"""MarketBlocks: one definition of the observable market, cut at t by one method."""

from __future__ import annotations

import numpy as np
import pytest

from prometheus_sim.blocks import BLOCK_COLUMNS, MarketBlocks
from prometheus_sim.market import Market


@pytest.fixture(scope="module")
def market(default_spec):
    return Market.simulate(default_spec.with_horizon(60), seed=5, n_paths=3)


def test_market_arrays_are_the_blocks_fields(market):
    assert set(MarketBlocks._fields) <= set(market.named_arrays())
    for name in MarketBlocks._fields:
        assert getattr(market, name) is getattr(market.blocks, name)
        assert not getattr(market, name).flags.writeable


def test_head_cuts_every_block_and_copy_head_owns_its_memory(market):
    view = market.blocks.head(10)
    cut = market.blocks.copy_head(10)
    for name in MarketBlocks._fields:
        assert getattr(view, name).shape[1] == 10
        np.testing.assert_array_equal(getattr(view, name), getattr(cut, name))
        assert getattr(cut, name).base is None  # no view reaches the uncut array
    assert market.head(10).blocks.close.shape == (3, 10, len(market.assets))


def test_named_columns(market):
    for block, columns in BLOCK_COLUMNS.items():
        for c, name in enumerate(columns):
            np.testing.assert_array_equal(market.blocks.column(block, name), getattr(market, block)[:, :, c])
    with pytest.raises(KeyError, match="unknown macro column 'cpi'"):
        market.blocks.column("macro", "cpi")


def test_macro_is_visible_at_the_step_it_applies_and_not_before(market):
    """No publication lag: the inflation print of the month's first step is seen at that step's close."""
    from adapters.sim import SimAdapter

    adapter = SimAdapter(market)
    infl = market.blocks.column("macro", "inflation_rate")
    changes = np.flatnonzero(np.any(infl[:, 1:] != infl[:, :-1], axis=0)) + 1
    assert changes.size, "the scenario's inflation never moved in 60 days"
    t = int(changes[0])
    before, at = adapter.snapshot(t - 1).history, adapter.snapshot(t).history
    assert before.macro_column("inflation_rate").shape[1] == t
    np.testing.assert_array_equal(at.macro_column("inflation_rate")[:, -1], infl[:, t])
    assert np.any(before.macro_column("inflation_rate")[:, -1] != infl[:, t])
