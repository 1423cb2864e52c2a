"""Which crypto assets the guide's ``btc_return_7d``/``eth_return_7d`` and the RL feature tail read: the
market's largest (BTC and ETH by name, then by declared size), not its first columns."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from prometheus_sim.market import Market
from prometheus_sim.portfolio import AssetBook
from prometheus_sim.portfolio.model import crypto_by_size
from prometheus_sim.rl.env import N_CRYPTO_FEATURED, RECENT_FEATURES, PortfolioEnv
from prometheus_sim.rl.vector import PortfolioVectorEnv
from prometheus_sim.scenario import ScenarioSpec
from tests.conftest import SCENARIOS

KINDS = ("crypto", "stable", "crypto", "crypto", "crypto")


def test_btc_and_eth_come_first_by_name_then_the_declared_size():
    names = ("SOL", "USDC", "eth", "DOGE", "BTC")
    assert crypto_by_size(names, KINDS) == (4, 2, 0, 3)  # no sizes: the rest in column order
    assert crypto_by_size(names, KINDS, [1e9, 5e9, 2e10, 3e9, 3e10]) == (4, 2, 3, 0)
    ties = crypto_by_size(("A", "USDC", "B", "C", "D"), KINDS, [1.0, 9.0, 5.0, 5.0, 7.0])
    assert ties == (4, 2, 3, 0)  # B and C tie: column order
    assert crypto_by_size(("ETH", "USDC"), ("crypto", "stable")) == (0,)  # ETH alone is the largest
    with pytest.raises(ValueError, match="sizes: one per asset"):
        crypto_by_size(names, KINDS, [1.0])


def test_a_book_pads_its_featured_columns():
    book = AssetBook.from_kinds(("SOL", "USDC", "BTC"), ("crypto", "stable", "crypto"), [3e9, 5e9, 2.5e10])
    assert book.featured == (2, 0)
    np.testing.assert_array_equal(book.featured_columns(3), [2, 0, -1])


@pytest.fixture(scope="module")
def shuffled() -> Market:
    """``default`` with its columns reordered (SOL, BOND, ETH, USDC, BTC) and ETH's size cut below SOL's."""
    raw = yaml.safe_load((SCENARIOS / "default.yaml").read_text())
    by_name = {a["name"]: a for a in raw["assets"]}
    raw["assets"] = [by_name[n] for n in ("SOL", "BOND", "ETH", "USDC", "BTC")]
    by_name["ETH"]["volume"]["daily_usd"] = 1.0e9  # ETH by name still outranks SOL's larger size
    return Market.simulate(ScenarioSpec.from_dict(raw).with_horizon(300), n_paths=2)


def test_the_state_reads_btc_and_eth_wherever_their_columns_are(shuffled):
    assert shuffled.assets == ["SOL", "BOND", "ETH", "USDC", "BTC"]
    env = PortfolioEnv(market=shuffled, episode_days=70)
    t = 150
    obs, _ = env.reset(seed=0, options={"path": 1, "start": t})
    close = shuffled.close[1]
    btc, eth, sol = 4, 2, 0
    assert obs[17] == np.float32(close[t, btc] / close[t - 7, btc] - 1.0)
    assert obs[18] == np.float32(close[t, eth] / close[t - 7, eth] - 1.0)
    # the feature tail: BTC's six features first, then ETH's, then SOL's
    tail = obs[32 : 32 + N_CRYPTO_FEATURED * len(RECENT_FEATURES)].reshape(N_CRYPTO_FEATURED, -1)
    one_day = RECENT_FEATURES.index("return_1d")
    for slot, a in enumerate((btc, eth, sol)):
        assert tail[slot, one_day] == pytest.approx(close[t, a] / close[t - 1, a] - 1.0, rel=1e-6)


def test_the_batched_env_features_the_same_columns(shuffled):
    vec = PortfolioVectorEnv(2, market=shuffled, episode_days=70)
    obs, _ = vec.reset(seed=3)
    singles = [PortfolioEnv(market=shuffled, episode_days=70).reset(options=vec.last_draws.profile(j, 1))[0]
               for j in range(2)]  # fmt: skip
    np.testing.assert_array_equal(obs, np.array(singles))
    np.testing.assert_array_equal(vec.pool.crypto3, [4, 2, 0])


def test_a_live_warm_start_keeps_the_sizes_that_order_the_featured_assets(tmp_path):
    """Live mode builds its book from the history it warm-starts from: without the market's sizes the columns' order
    chose, so a policy was refused on the very market it trained on (DOGE listed before SOL took SOL's slot), or,
    allowed, read DOGE's data in SOL's slots (review). A journal's replay keeps them too."""
    from adapters.sim import SimAdapter
    from prometheus_sim.datasource import HistorySource

    raw = yaml.safe_load((SCENARIOS / "default.yaml").read_text())
    doge = {**next(a for a in raw["assets"] if a["name"] == "SOL"), "name": "DOGE"}
    doge["volume"] = {**doge["volume"], "daily_usd": 1.0e8}  # smaller than SOL, listed before it
    raw["assets"] = [*raw["assets"][:2], doge, *raw["assets"][2:]]
    raw["correlation"] = {}
    market = Market.simulate(ScenarioSpec.from_dict(raw).with_horizon(60), n_paths=1)
    assert market.assets[:4] == ["BTC", "ETH", "DOGE", "SOL"]
    market.save(tmp_path / "m")
    for source in (HistorySource.from_market(market), HistorySource.from_run_dir(tmp_path / "m")):
        assert source.book().featured == SimAdapter(market).book.featured == (0, 1, 3, 2)  # BTC, ETH, SOL, DOGE
