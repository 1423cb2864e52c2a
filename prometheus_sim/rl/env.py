"""``PortfolioEnv``: one user's portfolio on a simulated market, stepped by the backtest's own venue.

Spec (Gymnasium's conventions):

* **Action space**: ``Discrete(7)``, the guide's actions (:class:`~prometheus_sim.portfolio.Action`:
  HOLD, BUY_CONSERVATIVE, BUY_MODERATE, BUY_AGGRESSIVE, SELL_PARTIAL, SELL_MAJOR, REBALANCE), planned
  and filled by the step kernel exactly as in a backtest (:class:`adapters.sim.SimAdapter`: orders
  decided at a close fill at the next open, with the venue's fees, slippage and impact). No fill or
  reward logic is written here.
* **Observation**: ``Box(float32)`` of the guide's 32-value state (portfolio value / 1e6,
  unrealised P&L share, 30-day vol, Sharpe, top-10 allocations, risk tolerance, months to goal /
  120, contribution / 1e4, 7-day returns of the two largest crypto assets (BTC and ETH by name, then
  by the scenario's declared daily dollar volume: ``AssetBook.featured``; zeros where the market has
  fewer), mean crypto vol, fear-greed left at the guide's default 50 (no data source derives it),
  bull and bear flags estimated from observable closes, never from ``truth``), then
  ``RECENT_FEATURES`` of each of the three largest crypto assets at the decision day (from
  :mod:`prometheus_sim.features`, which reads nothing after the day), then, with ``forecaster=`` (a
  registered forecaster's reference), the forecaster's predicted return and calibrated band width of each
  of them (:mod:`prometheus_sim.rl.forecast_obs`: 6 values more; episodes then start at the forecaster's
  first whole window, and a market row the forecaster trained on is refused). Values are clipped to
  ``OBS_BOUND``.
* **Reward**: the guide's reward of the decision's period, as the venue computes it for backtests
  (:func:`prometheus_sim.portfolio.nb.period_rewards_nb`).
* **Period**: one decision every ``period_days`` (default 7: weekly). The guide's reward makes
  all-cash the best policy at both periods tried: mean reward per episode (182 days from a cash
  start, ``default`` at seed 7, 100 paths x 5 starts, +- standard error; ``benchmarks/reward_scale.py``)
  daily: hold (cash) -12.1 +- 0.4, buy-and-hold -266.3 +- 5.8, 60/40 -322.1 +- 9.5; weekly: hold
  -1.8 +- 0.1, buy-and-hold -27.9 +- 1.6, 60/40 -16.3 +- 1.4 (package 0.3.0; the reward penalises volatility and
  drawdown far more than it pays return). Weekly is the default: both periods put cash first, and
  weekly decides at a seventh of the trading costs (buy-and-hold and 60/40 swap places between the
  two). That is a property of the guide's reward, stated, not tuned away: a policy trained on it
  learns to hold cash.
* **Start**: a path of the pool, a start day after the features' warm-up, and a risk profile are
  drawn from ``self.np_random`` (or given in ``reset(options={"path", "start", "profile"})``, ``start``
  a step); the portfolio opens in cash at the close of the start day (its last step when a day has
  several: every decision then falls on a day's close, where the day's features are complete), except
  at step 0 at one step a day (with several, starts begin at the first day's close, ``start_step(0)``, and
  step 0 is refused), which is the venue's whole run from the first open, as a backtest starts (so the first
  period's reward includes day 0's own move; the parity test with ``backtest.run`` uses it, and drawn
  starts are never 0: they come after the features' warm-up), and
  the profile's months to goal count from there (:func:`goal_dated_from`). The feature tail is that of
  the last whole day at or before the step, so a start given inside a day reads the day before.
  **End**: truncated after ``episode_days`` (never terminated: a portfolio does not end).
* **Arguments**: ``scenario`` (a shipped name or a file), ``n_paths`` (the pool), ``seed`` (the
  market's), ``period_days``, ``episode_days``, ``costs`` (a CostModel), ``horizon_days``,
  ``forecaster``, ``forecast_level`` and ``tracking_uri`` (the forecast columns, off by default; the store the
  forecaster is read from, default ``MLFLOW_TRACKING_URI``).

Version history: v0, the first. Its observation has its own version (:data:`OBSERVATION_VERSION`, in every
trained policy's metadata): 1 since 2026-12-05, ``rsi_14`` on 0-1 (it was 0-100 beside returns of about 0.01,
dwarfing them in the network's first layer; the other recent features, MACD and Bollinger width included, are
already ratios to the close). A policy trained on another observation version is refused, not fed data it never saw.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np

from prometheus_sim.features import WARMUP_DAYS, compute_features
from prometheus_sim.portfolio import Action, AssetBook, CostModel, RiskProfile, RiskProfiles
from prometheus_sim.portfolio.nb import DAYS_PER_MONTH

RECENT_FEATURES = ("return_1d", "return_7d", "volatility_7d", "rsi_14", "macd", "bb_width")
#: the recent features' scale in the observation: each column divided by this (rsi_14 from 0-100 to 0-1)
RECENT_SCALE = tuple(100.0 if name == "rsi_14" else 1.0 for name in RECENT_FEATURES)
OBSERVATION_VERSION = 1
N_CRYPTO_FEATURED = 3
OBS_BOUND = 1.0e4
N_ACTIONS = len(Action)


def _resolve(scenario: str):
    from pathlib import Path

    from prometheus_sim.scenario import load_scenario

    if not isinstance(scenario, (str, Path)):
        raise ValueError(f"scenario: a shipped name or a file path, got {scenario!r}")
    path = Path(scenario)
    if not path.is_file():  # a folder named like a shipped scenario (a run's output, say) does not hide it
        shipped = Path(__file__).resolve().parents[2] / "scenarios" / f"{scenario}.yaml"
        path = shipped if shipped.is_file() else path
    if not path.exists():
        raise ValueError(f"scenario {scenario!r} is neither a file nor a shipped scenario name")
    return load_scenario(path)


def featured_names(book: AssetBook) -> tuple[str, ...]:
    """The names of the crypto assets the observation reads (``btc_return_7d``, ``eth_return_7d`` and the
    feature tail; largest first, at most ``N_CRYPTO_FEATURED``): a policy records them with its weights."""
    return featured_names_of(book.names, book.featured)


def recent_features(fs, featured: tuple[int, ...]) -> np.ndarray:
    """(paths, days, N_CRYPTO_FEATURED x len(RECENT_FEATURES)): the observation's feature tail for the
    ``featured`` crypto columns (``AssetBook.featured``: largest first), zeros where the market has fewer
    crypto assets or a feature is still in its warm-up. The env and the DQN strategy both build it
    here, so a policy sees in a backtest what it saw in training."""
    cols = [fs.config.asset_names.index(n) for n in RECENT_FEATURES]
    crypto = list(featured)[:N_CRYPTO_FEATURED]
    n_paths, n_days = fs.close.shape[:2]
    recent = np.zeros((n_paths, n_days, N_CRYPTO_FEATURED, len(cols)))
    if crypto:
        recent[:, :, : len(crypto), :] = fs.asset[:, :, crypto][:, :, :, cols] / np.asarray(RECENT_SCALE)
    return np.nan_to_num(recent.reshape(n_paths, n_days, -1))


def featured_names_of(assets, featured) -> tuple[str, ...]:
    """The names of the featured crypto columns the observation reads (at most ``N_CRYPTO_FEATURED``)."""
    return tuple(assets[a] for a in list(featured)[:N_CRYPTO_FEATURED])


def tables_nbytes(market) -> int:
    """What an env and its batched form build from a market, before building it: the features (float64, per path,
    day and asset, then the market-wide and context blocks), the feature tail in float64 and float32, and the
    batched env's tables per step (the planner's ranks, float64 per asset; the state's market part, 6 float32).
    Checked against the memory available (:func:`~prometheus_sim.memory.check_memory`), as a simulation's outputs
    are: a pool of a market that fit could not fit its tables, and the process was killed part-way."""
    from prometheus_sim.features import FeatureConfig

    config = FeatureConfig.for_market(market)
    paths, steps, assets = market.n_paths, market.n_steps, len(market.assets)
    days = steps // market.steps_per_day
    per_day = assets * len(config.asset_names) + len(config.market_names) + len(config.context_names)
    from prometheus_sim.rl.forecast_obs import FORECAST_FEATURES

    tail = N_CRYPTO_FEATURED * (len(RECENT_FEATURES) + len(FORECAST_FEATURES))  # with the forecast columns
    return paths * (days * (8 * per_day + 12 * tail) + steps * (8 * assets + 4 * 6))


def observation_size(forecasts: bool = False) -> int:
    """Values in this version's observation: the guide's 32, the recent features of three crypto assets, and with
    ``forecasts`` the forecaster's columns (:mod:`prometheus_sim.rl.forecast_obs`). Without the test-only leak."""
    from prometheus_sim.portfolio.nb import OBS_SIZE
    from prometheus_sim.rl.forecast_obs import FORECAST_FEATURES

    per_asset = len(RECENT_FEATURES) + (len(FORECAST_FEATURES) if forecasts else 0)
    return OBS_SIZE + N_CRYPTO_FEATURED * per_asset


def observation_mismatch(meta: dict) -> str | None:
    """Why a policy with metadata ``meta`` must not be fed this version's observation, or None: one trained on
    another :data:`OBSERVATION_VERSION` (none recorded: 0, from before the versions) would get inputs on other
    scales than it learned; one without a decision period (``period_days``) cannot be run at all."""
    period = meta.get("period_days")
    if isinstance(period, bool) or not isinstance(period, int) or period < 1:
        # written by every training run; a damaged or hand-made entry divided by 0 in the decision grid, or every
        # cell failed in its worker after a made-up default of 1 (review of 2026-12-05)
        return f"has metadata whose period_days is {period!r}, not the whole number of days >= 1 it decides every"
    trained = meta.get("observation_version", 0)
    if trained == OBSERVATION_VERSION:
        return None
    return (
        f"was trained on observation version {trained} (0: rsi_14 on 0-100); this package builds version "
        f"{OBSERVATION_VERSION} (rsi_14 on 0-1), so its inputs would be on scales it never saw: train it again "
        "(prometheus-sim policy train)"
    )


def goal_dated_from(profiles: RiskProfiles, start: int, steps_per_day: int) -> RiskProfiles:
    """The profiles with their goal moved so that the months left at step ``start`` are the profile's.

    The venue counts a goal's months from the market's step 0 (a backtest starts there); an episode
    starting later would otherwise open with fewer months left than drawn, or none. Whole months:
    the months left at the start are the profile's within half a month.
    """
    from dataclasses import replace

    shift = int(round(start / steps_per_day / DAYS_PER_MONTH))
    return replace(profiles, time_to_goal=np.asarray(profiles.time_to_goal) + shift) if shift else profiles


def last_whole_day(t, steps_per_day: int):
    """The last day whose close is at or before step ``t``: the day of the features an observation at t reads
    (``t // steps_per_day`` would be the day t is in, whose later steps are the future). Arrays or ints."""
    return (t + 1) // steps_per_day - 1


def int_arg(name: str, value, minimum: int) -> int:
    """An integer argument (not a bool, not a float) of at least ``minimum``, or a ValueError naming it."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name}: must be an integer >= {minimum}, got {value!r}")
    return int(value)


RESET_OPTIONS = ("path", "start", "profile")


def observation_vector(state32: np.ndarray, recent: np.ndarray) -> np.ndarray:
    """The env's observation from the guide's state rows (n, 32) and the feature tail (n, F): clipped float32."""
    return np.clip(np.nan_to_num(np.concatenate([state32, recent], axis=-1)), -OBS_BOUND, OBS_BOUND).astype(np.float32)


class PortfolioEnv(gym.Env):
    """See the module docstring: it is this class's spec."""

    metadata = {"render_modes": []}

    def __init__(
        self,
        scenario: str = "default",
        n_paths: int = 16,
        seed: int | None = None,
        period_days: int = 7,
        episode_days: int = 182,
        costs: CostModel | None = None,
        horizon_days: int | None = None,
        market=None,
        leak_future: bool = False,
        render_mode: str | None = None,
        forecaster=None,
        forecast_level: float | None = None,
        tracking_uri: str | None = None,
    ):
        from prometheus_sim.market import Market

        if render_mode is not None:
            raise ValueError(f"render_mode: this env renders nothing (render_modes is empty), got {render_mode!r}")
        self.render_mode = None
        if not isinstance(leak_future, bool | np.bool_):  # "no" from a config file was truthy: the future leaked in
            raise ValueError(f"leak_future: true or false (TEST ONLY), got {leak_future!r}")
        if market is not None and not isinstance(market, Market):
            raise ValueError(f"market: a prometheus_sim.market.Market, got {type(market).__name__} (a scenario goes "
                             "in scenario=)")  # fmt: skip
        if market is None:
            int_arg("n_paths", n_paths, 1)
        else:  # these build a market: with one given they were ignored without a word
            given = {k: v for k, v in (("scenario", scenario != "default"), ("n_paths", n_paths != 16),
                                       ("seed", seed is not None), ("horizon_days", horizon_days is not None)) if v}  # fmt: skip
            if given:
                raise ValueError(f"market: given with {', '.join(given)}, which build a market of their own; pass "
                                 "either a market or those (cut a market with market.head(steps))")  # fmt: skip
        period_days = int_arg("period_days", period_days, 1)
        episode_days = int_arg("episode_days", episode_days, 1)
        if seed is not None:
            seed = int_arg("seed", seed, 0)
        if horizon_days is not None:
            horizon_days = int_arg("horizon_days", horizon_days, 1)
        if episode_days < period_days:
            raise ValueError(f"episode_days: must be at least period_days ({period_days}), got {episode_days}")
        if market is None:
            spec = _resolve(scenario)
            if horizon_days is not None:
                spec = spec.with_horizon(horizon_days)
            market = Market.simulate(spec, seed=seed, n_paths=n_paths)
        self.market = market
        if costs is not None and not isinstance(costs, CostModel):  # a dict failed at the first step; 0 was the default
            raise ValueError(f"costs: a CostModel (prometheus_sim.portfolio.CostModel) or None, got {costs!r}")
        self.costs = costs if costs is not None else CostModel()
        self.period_days = int(period_days)
        self.episode_days = int(episode_days)
        spd = market.steps_per_day
        self._period = self.period_days * spd
        self._episode = self.episode_days * spd
        # episodes start at a day's close (its last step), from the first day after the warm-up to the
        # last day that leaves a whole episode before the market's last close
        self._first_day = WARMUP_DAYS
        self._last_day = market.n_steps // spd - 1 - self.episode_days
        if self._last_day < self._first_day:
            raise ValueError(f"market {market.name!r}: {market.n_steps // spd} days leave no room for a "
                             f"{episode_days}-day episode after the {WARMUP_DAYS}-day warm-up (at least "
                             f"{WARMUP_DAYS + episode_days + 1} days)")  # fmt: skip
        featured = AssetBook.from_kinds(market.assets, market.asset_kinds, market.asset_sizes).featured
        from prometheus_sim.memory import check_memory

        check_memory(tables_nbytes(market), f"the env of market {market.name!r} ({market.n_paths:,} paths x "
                     f"{market.n_steps:,} steps)", "its features and tables", "paths (a smaller pool) or days")  # fmt: skip
        # on the calling thread: a single env starts no OpenMP threads, so AsyncVectorEnv's forked workers live
        self._recent = recent_features(compute_features(market, threads=False), featured)
        self.forecast = None
        for name, value in (("forecast_level", forecast_level), ("tracking_uri", tracking_uri)):
            if forecaster is None and value is not None:  # it would change nothing: said, not ignored
                raise ValueError(f"{name}: sets how the forecast columns are made, and no forecaster is given "
                                 f"({name}={value!r})")  # fmt: skip
        if forecaster is not None:  # the forecaster's columns after the recent features (rl.forecast_obs)
            from prometheus_sim.rl.forecast_obs import ForecastInputs

            self.forecast = ForecastInputs.load(forecaster, forecast_level, tracking_uri)
            self.forecast.check_assets(featured_names_of(market.assets, featured))
            self.forecast.refuse_seen_market(market)
            columns = self.forecast.table(self.forecast.features_of(market, threads=False), featured)
            self._recent = np.concatenate([self._recent, columns], axis=-1)
            self._first_day = max(self._first_day, self.forecast.first_day)
            if self._last_day < self._first_day:
                raise ValueError(f"market {market.name!r}: {market.n_steps // spd} days leave no room for a "
                                 f"{episode_days}-day episode after the forecaster's first whole window (day "
                                 f"{self._first_day}; at least {self._first_day + episode_days + 1} days)")  # fmt: skip
        # TEST ONLY (the learning-loop sanity check): the next period's log returns of the three largest
        # crypto assets appended to the observation. Never use it to score a policy.
        self.leak_future = bool(leak_future)
        self._crypto = list(featured)[:N_CRYPTO_FEATURED]
        self.action_space = gym.spaces.Discrete(N_ACTIONS)
        n_obs = 32 + self._recent.shape[-1] + (N_CRYPTO_FEATURED if self.leak_future else 0)
        self.observation_space = gym.spaces.Box(-OBS_BOUND, OBS_BOUND, shape=(n_obs,), dtype=np.float32)
        self._adapter = None
        self._snap = None
        self._t = 0
        self._end = 0
        self._path = 0

    def start_step(self, day):
        """The step an episode starting on ``day`` opens at: the day's close (its last step). Arrays or ints."""
        spd = self.market.steps_per_day
        return day * spd + spd - 1

    # ------------------------------------------------------------ Gymnasium API

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        from adapters.sim import SimAdapter, SimConfig

        if options is not None and not isinstance(options, dict):
            raise ValueError(f"options: a dict with keys among {list(RESET_OPTIONS)}, or None; got {options!r}")
        options = dict(options or {})
        unknown = sorted(set(options) - set(RESET_OPTIONS))
        if unknown:
            raise ValueError(f"options: unknown key(s) {unknown}; known: {list(RESET_OPTIONS)}")
        rng = self.np_random
        path = options["path"] if "path" in options else int(rng.integers(self.market.n_paths))
        if isinstance(path, (bool, np.bool_)) or not isinstance(path, (int, np.integer)):
            raise ValueError(f"path {path!r}: must be an integer in 0..{self.market.n_paths - 1} (the pool's paths)")
        if not 0 <= path < self.market.n_paths:
            raise ValueError(f"path {path}: must be in 0..{self.market.n_paths - 1} (the pool's paths)")
        last_start = self.market.n_steps - 1 - self._episode
        if "start" in options:
            start = options["start"]
            if isinstance(start, (bool, np.bool_)) or not isinstance(start, (int, np.integer)):
                raise ValueError(f"start {start!r}: must be an integer step in {self.start_step(0)}..{last_start}")
            if not self.start_step(0) <= start <= last_start:  # from the first day's close: a day's features
                raise ValueError(f"start {start}: must be in {self.start_step(0)}..{last_start}")
        else:
            start = self.start_step(int(rng.integers(self._first_day, self._last_day + 1)))
        profile = options.get("profile")
        if profile is not None and not isinstance(profile, RiskProfile):
            raise ValueError(f"profile: a RiskProfile, got {type(profile).__name__}")
        self._path, start = int(path), int(start)
        profile = profile or RiskProfile(
            risk_tolerance=float(rng.uniform(0.0, 1.0)), time_to_goal=int(rng.integers(6, 121)),
            investment_amount=float(rng.choice([1e4, 1e5, 1e6])),
        )  # fmt: skip
        market = self.market.rows(slice(self._path, self._path + 1))
        profiles = goal_dated_from(RiskProfiles.of(profile, 1), start, self.market.steps_per_day)
        self._adapter = SimAdapter(market, SimConfig(costs=self.costs), profiles, start=start)
        self._t = start
        self._end = start + self._episode
        self._snap = self._adapter.snapshot(start)
        return self._observe(), self._info()

    def step(self, action):
        if self._snap is None:
            raise RuntimeError("call reset() before step() (and after close())")
        if isinstance(action, (bool, np.bool_)) or (
            not self.action_space.contains(action)
            and not (isinstance(action, (int, np.integer)) and 0 <= action < N_ACTIONS)
        ):  # a flag is not an action: True would run as action 1
            raise ValueError(f"action {action!r}: must be an integer in 0..{N_ACTIONS - 1} (the guide's seven actions)")
        if self._t >= self._end:  # checked before anything is submitted: the episode's books stay as they ended
            raise RuntimeError("the episode has ended (truncated at its last step): call reset() before step()")
        self._adapter.submit(self._t, self._snap.plan(np.array([int(action)])))
        self._t = min(self._t + self._period, self._end)
        self._snap = self._adapter.snapshot(self._t)
        reward = float(self._snap.reward[0])
        truncated = self._t >= self._end
        return self._observe(), reward, False, truncated, self._info()

    # ------------------------------------------------------------ helpers

    def close(self) -> None:
        """Gymnasium's close: the episode ends; stepping again needs a reset."""
        self._snap = None
        self._adapter = None
        super().close()

    def _observe(self) -> np.ndarray:
        day = last_whole_day(self._t, self.market.steps_per_day)
        obs = observation_vector(self._snap.observation()[0], self._recent[self._path, day])
        if not self.leak_future:
            return obs
        close = self.market.close[self._path]
        ahead = min(self._t + self._period, self.market.n_steps - 1)
        leak = np.zeros(N_CRYPTO_FEATURED, dtype=np.float32)
        leak[: len(self._crypto)] = np.log(close[ahead, self._crypto] / close[self._t, self._crypto]) * 10.0
        return np.concatenate([obs, leak])

    def _info(self) -> dict:
        return {"step": self._t, "value": float(self._snap.value[0]), "path": self._path}


__all__ = [
    "N_ACTIONS",
    "observation_size",
    "OBS_BOUND",
    "PortfolioEnv",
    "RECENT_FEATURES",
    "goal_dated_from",
    "observation_vector",
    "observation_mismatch",
    "recent_features",
]
