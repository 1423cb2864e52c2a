"""PortfolioEnv: Gymnasium's checker, registration by string, seeded trajectories, parity with the
backtest's venue to 1e-12, no lookahead, fees in the reward, clear errors."""

from __future__ import annotations

import subprocess
import sys
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from adapters.sim import SimAdapter, SimConfig
from prometheus_sim.backtest import DecisionClock, run
from prometheus_sim.features import WARMUP_DAYS
from prometheus_sim.market import Market
from prometheus_sim.portfolio import CostModel, RiskProfile
from prometheus_sim.rl.env import PortfolioEnv, observation_vector
from prometheus_sim.scenario import load_scenario
from strategies.base import BatchStrategy
from tests.conftest import ROOT, SCENARIOS

PROFILE = RiskProfile(risk_tolerance=0.7, time_to_goal=36, investment_amount=250_000.0)


@pytest.fixture(scope="module")
def market() -> Market:
    return Market.simulate(load_scenario(SCENARIOS / "default.yaml").with_horizon(300), n_paths=3)


def test_the_env_passes_gymnasiums_checker(market):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        env = gym.make("prometheus_sim.rl:PrometheusPortfolio-v0", market=market, episode_days=70)
        check_env(env.unwrapped)


def test_make_by_string_needs_no_prior_import():
    code = ("import gymnasium as gym; env = gym.make('prometheus_sim.rl:PrometheusPortfolio-v0', scenario='default', "
            "n_paths=2, horizon_days=200, episode_days=28); o, _ = env.reset(seed=1); print(o.shape)")  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "(50,)"


def test_make_vec_gives_the_batched_env_and_gymnasiums_async_workers_live():
    """``make_vec``'s default is the batched env; ``async`` forks Gymnasium's workers after the parent built an env
    (and here after it ran Numba's OpenMP threads too): a single env starts none, so the workers live (they were
    killed: "fork() called from a process already using GNU OpenMP")."""
    code = (
        "import gymnasium as gym, numpy as np\n"
        "from prometheus_sim.rl import ENV_ID\n"
        "from prometheus_sim.rl.vector import PortfolioVectorEnv\n"
        "kw = dict(n_paths=2, horizon_days=200, episode_days=28)\n"
        "batched = gym.make_vec(ENV_ID, num_envs=3, **kw)\n"
        "assert isinstance(batched.unwrapped, PortfolioVectorEnv) and batched.num_envs == 3\n"
        "batched.reset(seed=0); batched.step(np.arange(3))\n"  # the batched env's OpenMP kernels ran here
        "env = gym.make_vec(ENV_ID, num_envs=2, vectorization_mode='async', **kw)\n"
        "o, _ = env.reset(seed=1); o, r, te, tr, _ = env.step(np.array([1, 2])); env.close()\n"
        "print(o.shape, bool(np.isfinite(r).all()))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "(2, 50) True"


def test_equally_seeded_envs_roll_identical_trajectories(market):
    a, b = PortfolioEnv(market=market, episode_days=70), PortfolioEnv(market=market, episode_days=70)
    oa, _ = a.reset(seed=42)
    ob, _ = b.reset(seed=42)
    actions = np.random.default_rng(0).integers(0, 7, 10)
    np.testing.assert_array_equal(oa, ob)
    for act in actions:
        ra, rb = a.step(int(act)), b.step(int(act))
        np.testing.assert_array_equal(ra[0], rb[0])
        assert ra[1:4] == rb[1:4]


class Scripted(BatchStrategy):
    """Plays a fixed action sequence, one action per decision."""

    name = "scripted"
    decision_every_days = 7

    def __init__(self, actions):
        self.actions = list(actions)
        self.k = 0

    def decide_batch(self, snapshots):
        act = self.actions[min(self.k, len(self.actions) - 1)]
        self.k += 1
        return snapshots.plan(np.array([act]))


def test_a_fixed_action_sequence_gives_the_backtests_equity(market):
    """The env steps the very venue a backtest uses: the same actions give the same equity, to 1e-12."""
    actions = [6, 0, 3, 4, 0, 2, 5, 1, 6, 0]
    costs = CostModel(fees_bps=10.0, slippage_bps=2.0, impact=0.1)
    env = PortfolioEnv(market=market, episode_days=70, costs=costs)
    env.reset(seed=0, options={"path": 1, "start": 0, "profile": PROFILE})
    values, rewards = [], []
    for act in actions:
        _, r, _, _, info = env.step(act)
        values.append(info["value"])
        rewards.append(r)
    one = market.rows(slice(1, 2))
    result = run(Scripted(actions), SimAdapter(one, SimConfig(costs=costs), PROFILE),
                 DecisionClock.for_strategy(Scripted(actions), one.n_steps, one.steps_per_day))  # fmt: skip
    steps = [7 * (k + 1) for k in range(len(actions))]
    np.testing.assert_allclose(values, result.equity[0, steps], rtol=1e-12)
    np.testing.assert_allclose(rewards, result.rewards[0, : len(actions)], rtol=1e-12)  # decision k's period


class ScriptedLate(Scripted):
    """Scripted, first deciding on day 35 (as dqn after its features' warm-up), recording the state it is shown."""

    first_decision_day = 35

    def __init__(self, actions):
        super().__init__(actions)
        self.seen = []

    def decide_batch(self, snapshots):
        st = snapshots.state
        self.seen.append((st.unrealized_pnl[0], st.volatility_30d[0], st.sharpe_ratio[0]))
        return super().decide_batch(snapshots)


def test_a_strategy_first_deciding_late_is_shown_the_state_an_episode_opening_there_shows(market):
    """A backtest's books open at the first open, an episode's at its start: the portfolio statistics (30-day
    window of daily returns, cost basis) start at the venue's first snapshot, so a policy first deciding on day 35
    is shown the unrealised P&L, volatility and Sharpe it saw in training (35 days of stablecoin noise gave a
    Sharpe of 3.1 against 6.8 at the second decision, review)."""
    actions = [6, 0, 3, 4, 0, 2, 5, 1]
    costs = CostModel(fees_bps=10.0, slippage_bps=2.0, impact=0.1)
    env = PortfolioEnv(market=market, episode_days=70, costs=costs)
    env.reset(seed=0, options={"path": 1, "start": 35, "profile": PROFILE})
    shown = []
    for act in actions:
        st = env._snap.state
        shown.append((st.unrealized_pnl[0], st.volatility_30d[0], st.sharpe_ratio[0]))
        env.step(act)
    one = market.rows(slice(1, 2))
    strategy = ScriptedLate(actions)
    run(strategy, SimAdapter(one, SimConfig(costs=costs), PROFILE),
        DecisionClock.for_strategy(strategy, 35 + 7 * len(actions) + 1, one.steps_per_day))  # fmt: skip
    assert len(strategy.seen) == len(actions)
    # the books' scale differs by the stablecoin's drift over 35 days (1.7e-4): P&L relative to the value
    scale = PROFILE.investment_amount
    for (pnl_e, vol_e, sharpe_e), (pnl_b, vol_b, sharpe_b) in zip(shown, strategy.seen, strict=True):
        assert abs(pnl_e - pnl_b) / scale < 1e-3
        assert vol_b == pytest.approx(vol_e, rel=1e-9, abs=1e-12) and sharpe_b == pytest.approx(
            sharpe_e, rel=1e-9, abs=1e-9
        )
    assert any(v > 0 for _, v, _ in strategy.seen)  # the window filled: the statistics were compared, not zeros


def moved_after(market: Market, t: int) -> Market:
    """``market`` with every block after step t changed (prices x1.3, volume x7, on-chain +9, macro x2)."""
    b = market.blocks
    later = (np.arange(market.n_steps) > t)[None, :, None]
    return Market.from_bars("moved", market.assets, market.asset_kinds, market.calendar, b._replace(
        open=np.where(later, b.open * 1.3, b.open), high=np.where(later, b.high * 1.3, b.high),
        low=np.where(later, b.low * 1.3, b.low), close=np.where(later, b.close * 1.3, b.close),
        volume=np.where(later, b.volume * 7, b.volume), onchain=np.where(later, b.onchain + 9, b.onchain),
        macro=np.where(later, b.macro * 2, b.macro)), {"kind": "test"}, steps_per_day=market.steps_per_day)  # fmt: skip


def test_the_observation_at_t_ignores_the_future(market):
    t = 120
    moved = moved_after(market, t)
    opts = {"path": 2, "start": t, "profile": PROFILE}
    o1, _ = PortfolioEnv(market=market, episode_days=70).reset(seed=0, options=opts)
    o2, _ = PortfolioEnv(market=moved, episode_days=70).reset(seed=0, options=opts)
    np.testing.assert_array_equal(o1, o2)


@pytest.fixture(scope="module")
def market4() -> Market:
    """``default`` at four steps a day: a day's features are complete only at its last step."""
    return Market.simulate(load_scenario(SCENARIOS / "default.yaml").with_overrides(horizon_days=260, steps_per_day=4),
                           n_paths=2)  # fmt: skip


def test_at_several_steps_a_day_episodes_open_at_a_close_and_the_observation_ignores_the_future(market4):
    env = PortfolioEnv(market=market4, episode_days=70)
    starts = {env.reset(seed=k)[1]["step"] for k in range(40)}
    assert len(starts) > 10 and all(s % 4 == 3 for s in starts), sorted(starts)  # each a day's last step
    for t in (400, 401, 403):  # day 100's first, second and last steps
        moved = moved_after(market4, t)
        opts = {"path": 1, "start": t, "profile": PROFILE}
        o1, _ = PortfolioEnv(market=market4, episode_days=70).reset(seed=0, options=opts)
        o2, _ = PortfolioEnv(market=moved, episode_days=70).reset(seed=0, options=opts)
        np.testing.assert_array_equal(o1, o2)  # the feature tail of day 100 read at step 400 failed this
    # inside a day the tail is the day before's, at its close the day's own
    tail = PortfolioEnv(market=market4, episode_days=70)._recent[1]
    for t, day in ((400, 99), (402, 99), (403, 100)):
        o, _ = PortfolioEnv(market=market4, episode_days=70).reset(seed=0, options={"path": 1, "start": t})
        np.testing.assert_array_equal(
            o[32 : 32 + tail.shape[1]], observation_vector(np.zeros((1, 32)), tail[day][None])[0, 32:]
        )


def test_fees_reach_the_reward(market):
    def rollout(fees: float) -> tuple[float, float]:
        env = PortfolioEnv(market=market, episode_days=70, costs=CostModel(fees_bps=fees))
        env.reset(seed=0, options={"path": 0, "start": 40, "profile": PROFILE})
        total, info = 0.0, {}
        for act in [6, 4, 3, 5, 2, 6, 4, 3, 5, 2]:
            _, r, _, _, info = env.step(act)
            total += r
        return total, info["value"]

    cheap, dear = rollout(0.0), rollout(100.0)
    assert dear[1] < cheap[1] and dear[0] < cheap[0]


def test_bad_input_is_refused(market):
    env = PortfolioEnv(market=market, episode_days=70)
    with pytest.raises(RuntimeError, match="call reset"):
        env.step(0)
    env.reset(seed=0)
    with pytest.raises(ValueError, match="action 7: must be an integer in 0..6"):
        env.step(7)
    with pytest.raises(ValueError, match="action True: must be an integer in 0..6"):
        env.step(True)
    with pytest.raises(ValueError, match="neither a file nor a shipped scenario"):
        PortfolioEnv(scenario="no_such_scenario")
    with pytest.raises(ValueError, match="leave no room"):
        PortfolioEnv(market=market, episode_days=400)
    # the longest episode that fits: one start, right after the warm-up, ending at the market's last close
    snug = PortfolioEnv(market=market, episode_days=market.n_steps - WARMUP_DAYS - 1)
    assert snug.reset(seed=0)[1]["step"] == WARMUP_DAYS and snug._end == market.n_steps - 1
    with pytest.raises(ValueError, match=f"at least {market.n_steps + 1} days"):
        PortfolioEnv(market=market, episode_days=market.n_steps - WARMUP_DAYS)
    with pytest.raises(ValueError, match=r"episode_days: must be at least period_days \(30\), got 7"):
        PortfolioEnv(market=market, period_days=30, episode_days=7)
    with pytest.raises(ValueError, match="period_days: must be an integer >= 1, got 0"):
        PortfolioEnv(market=market, period_days=0)
    with pytest.raises(ValueError, match=rf"path {market.n_paths}: must be in 0..{market.n_paths - 1}"):
        env.reset(options={"path": market.n_paths})
    with pytest.raises(ValueError, match="path -1: must be in"):
        env.reset(options={"path": -1})
    # no silent coercion: a float path or step, a flag, a float period, an unknown option, a bad profile
    with pytest.raises(ValueError, match="path 1.7: must be an integer"):
        env.reset(options={"path": 1.7})
    with pytest.raises(ValueError, match="start 40.5: must be an integer step"):
        env.reset(options={"start": 40.5})
    with pytest.raises(ValueError, match=r"options: unknown key\(s\) \['begin'\]"):
        env.reset(options={"begin": 40})
    with pytest.raises(ValueError, match="profile: a RiskProfile, got str"):
        env.reset(options={"profile": "x"})
    for kwargs, words in (({"period_days": 1.5}, "period_days: must be an integer >= 1, got 1.5"),
                          ({"n_paths": 1.5, "market": None}, "n_paths: must be an integer >= 1, got 1.5"),
                          ({"seed": "abc", "market": None}, "seed: must be an integer >= 0, got 'abc'"),
                          ({"scenario": 5, "market": None}, "scenario: a shipped name or a file path, got 5"),
                          ({"render_mode": "human"}, "render_mode: this env renders nothing")):  # fmt: skip
        with pytest.raises(ValueError, match=words):
            PortfolioEnv(**{"market": market, "episode_days": 70, **kwargs})
    assert PortfolioEnv(market=market, episode_days=70, render_mode=None).render_mode is None  # gym.make passes it
    env.close()
    with pytest.raises(RuntimeError, match="call reset"):
        env.step(0)  # a closed env does not step on


def test_stepping_an_ended_episode_is_refused_before_anything_moves(market):
    """Found by a review: the extra step submitted an order, then failed deep in the adapter ("step 714 is in the
    past"), and every later step failed differently."""
    env = PortfolioEnv(market=market, episode_days=21)
    env.reset(seed=0)
    truncated = False
    while not truncated:
        *_, truncated, info = env.step(0)
    value = info["value"]
    for _ in range(2):
        with pytest.raises(RuntimeError, match=r"the episode has ended .*: call reset\(\) before step\(\)"):
            env.step(3)
    assert env._info()["value"] == value  # nothing was bought
    env.reset(seed=1)
    env.step(3)  # and a reset steps on as usual


def test_a_decision_inside_a_day_reads_the_feature_tail_of_the_last_whole_day(market4):
    """At four steps a day the strategy's feature tail (``snapshot_features``) is the last whole day's at every step
    of a day, as the env's is: counted back from t inside a day, every "day" straddled two (all 18 values off by up
    to 5 at steps 160-162, review; a live clock decides at whatever step it started on)."""
    from prometheus_sim.features import snapshot_features
    from prometheus_sim.portfolio import AssetBook
    from prometheus_sim.rl.env import last_whole_day, recent_features

    env = PortfolioEnv(market=market4, episode_days=70)
    featured = AssetBook.from_kinds(market4.assets, market4.asset_kinds, market4.asset_sizes).featured
    one = market4.rows(slice(1, 2))
    for t in (159, 160, 161, 162, 163):  # day 39's close, then day 40's four steps
        snap = SimAdapter(one, SimConfig(), PROFILE).snapshot(t)
        tail = recent_features(snapshot_features(snap), featured)[0, -1]
        np.testing.assert_allclose(tail, env._recent[1, last_whole_day(t, 4)], rtol=1e-12, atol=1e-12, err_msg=str(t))
