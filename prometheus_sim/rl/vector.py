"""``PortfolioVectorEnv``: N portfolio environments stepped in one Numba call, on Gymnasium's vector API.

Every env is :class:`~prometheus_sim.rl.env.PortfolioEnv` (same spec: actions, observation, reward,
period, episode), batched: one call plans, fills and marks every env through the step kernel's own
row function (:func:`~prometheus_sim.portfolio.nb.step_row_nb`, the one ``SimAdapter`` uses), then
writes rewards and observations. No fill or reward rule is written here.

What makes it fast is what a market pool allows to be done once: the planner's volatility ranks
and the market's part of the state (7-day returns, mean crypto vol, regime flags) depend on the
market alone, so :class:`EnvPool` tabulates them per (path, step) when the env is built, with the
very functions a snapshot calls (memory: paths x steps x A float64 ranks and x 6 float32 market
state, about 15 MB for 64 paths of 10 years of daily bars; the feature tail is float32 too).

Autoreset is Gymnasium's same-step mode by default (``autoreset_mode=AutoresetMode.NEXT_STEP`` gives its next-step
mode, which Gymnasium's vector observation wrappers such as ``NormalizeObservation`` need: a finished env returns
its last observation, truncated, and its new episode's first on the next step, reward 0, its action ignored), with
the keys Gymnasium's own vector envs write: a truncated env's last observation goes to ``infos["final_obs"]`` (mask
``infos["_final_obs"]``), its last step's info (``value``, ``step``, ``path``) to ``infos["final_info"]``
(a dict of arrays with their ``_value``-style masks; mask ``infos["_final_info"]``) and, for short,
its final value to ``infos["final_value"]`` (NaN elsewhere); the returned observation and the top-level
info are the new episode's first; every info key has its mask (``_value``, ``_step``, ``_path``: every env at the
top level, the finished ones in ``final_info``). Every step returns a new observation array, which the env
never writes to again (no copy is made, and none is needed).

Resets draw (path, start, risk profile) for all envs that need one from the vector env's own
``np_random`` (vectorised, not per env), so a batched run and N single envs draw different
episodes for the same seed; the parity tests replay the batched env's draws into single envs
through ``reset(options=...)``. Monthly contributions are zero, as in ``PortfolioEnv``'s draws.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import gymnasium as gym
import numpy as np
from numba import njit, prange

from prometheus_sim.portfolio import CostModel, RebalanceRules
from prometheus_sim.portfolio import nb as pnb
from prometheus_sim.portfolio.nb import DAYS_PER_MONTH
from prometheus_sim.rl.env import N_ACTIONS, N_CRYPTO_FEATURED, OBS_BOUND, PortfolioEnv, int_arg
from prometheus_sim.rl.prefetch import prefetch_nb

MARKET_OBS_FROM, N_MARKET_OBS = 17, 6  # the state's market part o[17:23], tabulated per (path, step)
AMOUNTS = np.array([1e4, 1e5, 1e6])
PREFETCH_AHEAD = 4  # envs: 2 gave 612/466 ns an env step, 4 519/463, 8 533/562 (two runs, 4,096 envs, 1 thread)
CACHE_LINE_BYTES = 64  # prefetch loops step one line: CACHE_LINE_BYTES // itemsize elements (8 float64, 16 float32)
MAX_ENVS = 2**24  # 16.8 M envs: about 12 GiB of books and observations
CHUNK_ENVS = 64  # envs a thread steps at a time; each chunk has one row of scratch (orders, pre-fill holdings, state)


@njit(cache=True, parallel=True, error_model="numpy")
def market_tables_nb(close, steps_per_day, kind, crypto_pair, key_out, mobs_out):
    """Fill ``key_out`` (P, S, A) with the planner's ranks and ``mobs_out`` (P, S, 6) with ``o[17:23]`` at every close."""
    n_paths, n_steps, n_assets = close.shape
    for q in prange(n_paths):
        p = np.int64(q)  # prange's index is unsigned: the row functions would compile a second time for it
        vols = np.empty(n_assets)
        o = np.zeros(pnb.OBS_SIZE)
        for t in range(n_steps):
            pnb.rank_key_row_nb(close, p, t, steps_per_day, kind, key_out[p, t])
            o[:] = 0.0
            regime = pnb.regime_row_nb(close, p, t, steps_per_day, kind)
            pnb.market_obs_row_nb(close, p, t, steps_per_day, kind, crypto_pair, regime, vols, o)
            mobs_out[p, t, :] = o[MARKET_OBS_FROM : MARKET_OBS_FROM + N_MARKET_OBS]


@njit(cache=True, error_model="numpy", inline="always")
def _bounded(x):
    """x clipped to +-OBS_BOUND, NaN to 0: selects, not branches, so a loop of them vectorises."""
    c = x if x > -OBS_BOUND else -OBS_BOUND
    c = c if c < OBS_BOUND else OBS_BOUND
    return c if x == x else 0.0


@njit(cache=True, error_model="numpy", inline="always")
def observe_row_nb(close, p, t, i, state, vol, sharpe, mobs, recent, steps_per_day, risk_tolerance, time_to_goal,
                   crypto3, leak, period, scratch, out, n_assets):  # fmt: skip
    """Env i's observation at close t, as ``PortfolioEnv`` builds it (clipped float32).

    ``vol, sharpe`` are env i's :func:`~prometheus_sim.portfolio.nb.trailing_stats_row_nb` (the step
    computes them once for the reward and the observation). ``scratch`` (OBS_SIZE + A,) holds the
    unclipped state, then the weights; ``n_assets`` is A (a constant in :func:`vector_step_kernel`'s
    code). Written with explicit loops, no slice views or slice assignments: this runs for every env at
    every step, and those cost more than the arithmetic (measured: 241 -> 145 ns an env on 4,096 envs).
    """
    holdings, basis = state.holdings, state.basis
    for k in range(pnb.OBS_SIZE):
        scratch[k] = 0.0
    value = 0.0
    unrealized = 0.0
    for a in range(n_assets):
        v = holdings[i, a] * close[p, t, a]
        value += v
        unrealized += v - basis[i, a]
    for a in range(n_assets):
        w = holdings[i, a] * close[p, t, a] / value
        scratch[pnb.OBS_SIZE + a] = w if w == w and abs(w) != np.inf else 0.0
    months = pnb.months_to_goal_nb(time_to_goal, t, steps_per_day)
    weights = scratch[pnb.OBS_SIZE : pnb.OBS_SIZE + n_assets]
    pnb.portfolio_obs_row_nb(scratch, value, unrealized, vol, sharpe, weights, risk_tolerance, months, 0.0)
    for k in range(N_MARKET_OBS):
        scratch[MARKET_OBS_FROM + k] = mobs[p, t, k]
    for k in range(pnb.OBS_SIZE):
        out[k] = _bounded(scratch[k])
    day = (t + 1) // steps_per_day - 1  # the last whole day (``env.last_whole_day``): t may be inside a day
    n_recent = recent.shape[2]
    for k in range(n_recent):
        out[pnb.OBS_SIZE + k] = _bounded(recent[p, day, k])
    if leak:
        ahead = min(t + period, close.shape[1] - 1)
        for j in range(crypto3.shape[0]):
            a = crypto3[j]
            out[pnb.OBS_SIZE + n_recent + j] = math.log(close[p, ahead, a] / close[p, t, a]) * 10.0 if a >= 0 else 0.0


@njit(cache=True, error_model="numpy", inline="always")
def prefetch_env_nb(j, blocks, rows, t, end, key, mobs, recent, steps_per_day, period, state):
    """Start loading what env j's step will read: its market rows (closes through its next decision,
    the fill's open and volume, the planner's ranks, the tabulated state, the feature tail) and its
    ring of daily returns. Hints only (:mod:`prometheus_sim.rl.prefetch`); reads nothing."""
    n_steps, n_assets = blocks.close.shape[1], blocks.close.shape[2]
    q, t0 = rows[j], t[j]
    t1 = min(t0 + period, end[j])
    row = (q * n_steps + t0) * n_assets
    # A row that starts inside a cache line ends in the next one: each run below is fetched from its
    # first element a line at a time, then at its last element. Fetching the last lines of the
    # 40-byte open, volume and rank rows (and of the closes and the market-state row) as well took
    # the step from 236-275 to 208-217 ns an env (interleaved, 4,096 envs, 1 thread).
    span = (t1 - t0 + 1) * n_assets
    for k in range(0, span, CACHE_LINE_BYTES // blocks.close.itemsize):
        prefetch_nb(blocks.close, row + k)
    prefetch_nb(blocks.close, row + span - 1)
    prefetch_nb(blocks.open, row + n_assets)
    prefetch_nb(blocks.open, row + 2 * n_assets - 1)
    prefetch_nb(blocks.volume, row)
    prefetch_nb(blocks.volume, row + n_assets - 1)
    prefetch_nb(key, row)
    prefetch_nb(key, row + n_assets - 1)
    prefetch_nb(mobs, (q * n_steps + t1) * mobs.shape[2])
    prefetch_nb(mobs, (q * n_steps + t1 + 1) * mobs.shape[2] - 1)
    tail = (q * recent.shape[1] + (t1 + 1) // steps_per_day - 1) * recent.shape[2]
    for k in range(0, recent.shape[2], CACHE_LINE_BYTES // recent.itemsize):
        prefetch_nb(recent, tail + k)
    prefetch_nb(recent, tail + recent.shape[2] - 1)  # an unaligned row's last line
    ring = j * state.ring.shape[1]
    for k in range(0, state.ring.shape[1], CACHE_LINE_BYTES // state.ring.itemsize):
        prefetch_nb(state.ring, ring + k)
    prefetch_nb(state.ring, ring + state.ring.shape[1] - 1)


@njit(cache=True, error_model="numpy", _nrt=False)
def step_envs_nb(
    lo, hi, blocks, rows, t, end, actions, key, mobs, recent, crypto3, leak, kind, cash_index, risky_weight,
    fee_rate, slippage, impact, deposit_step, steps_per_day, period, risk_tolerance, time_to_goal,
    state, sell, buy, pre_fill, scratch, no_marks, reward_out, done_out, value_out, step_out, path_out, obs_out,
):  # fmt: skip
    """Envs ``lo..hi - 1``: plan -> fill -> mark through ``step_row_nb``, the guide's reward, the next observation.

    The step's outputs go straight into the arrays the env hands back (reward, done, the info's value,
    step and path), so no copy of them is made after the call. Returns how many of the envs finished.

    ``sell``, ``buy``, ``pre_fill`` (A,) and ``scratch`` (OBS_SIZE + A,) are this chunk's work rows,
    rewritten by every env before it reads them: one row per chunk stays in the L1 cache, where a
    row per env streamed about 400 bytes per env through memory at each step. ``kind`` (a tuple, so its
    length is the number of assets), ``cash_index``, ``steps_per_day`` and ``period`` come in as constants
    (:func:`vector_step_kernel`).

    Compiled without Numba's reference counting (``_nrt=False``): every row view the step takes
    (``state.holdings[i]``, ``open[p, s]``, ``obs_out[i]``...) otherwise costs an atomic increment and
    decrement that Numba's pruning does not remove in a body this size (measured on 4,096 envs, 1
    thread: the step part took 500-620 ns an env with them and 255-295 ns without, same bytes). So
    nothing here allocates (``no_marks``, an (n, 0) array, comes in), and every function it calls must
    be ``inline="always"`` or return no array: a helper compiled elsewhere with reference counting that
    returned a new array would leak it here (a test checks that stepping allocates nothing through
    Numba's runtime).
    """
    n_assets = len(kind)
    n_done = 0
    for i in range(lo, hi):
        if i + PREFETCH_AHEAD < hi:
            prefetch_env_nb(i + PREFETCH_AHEAD, blocks, rows, t, end, key, mobs, recent, steps_per_day, period, state)
        p = rows[i]
        t0 = t[i]
        t1 = min(t0 + period, end[i])
        pnb.step_row_nb(
            blocks, p, i, t0, t1, actions[i], True, sell, buy, key[p, t0], kind, cash_index, risky_weight[i],
            fee_rate, slippage, impact, deposit_step, 0.0, steps_per_day, state, 0, no_marks, no_marks, pre_fill,
        )  # fmt: skip
        vol, sharpe = pnb.trailing_stats_row_nb(state, i)
        reward_out[i] = pnb.period_reward_stats_row_nb(state, i, vol, sharpe, risk_tolerance[i], time_to_goal[i],
                                                       steps_per_day)  # fmt: skip
        t[i] = t1
        done_out[i] = t1 >= end[i]
        n_done += done_out[i]
        value_out[i] = state.value[i]
        step_out[i] = t1
        path_out[i] = p
        observe_row_nb(blocks.close, p, t1, i, state, vol, sharpe, mobs, recent, steps_per_day, risk_tolerance[i],
                       time_to_goal[i], crypto3, leak, period, scratch, obs_out[i], n_assets)  # fmt: skip
    return n_done


@functools.cache
def vector_step_kernel(kinds: tuple[int, ...], cash_index: int, steps_per_day: int, period: int):
    """The parallel step of every env, compiled for one market layout and decision period.

    The assets' kind codes (so their number), the cash asset, the steps a day and the period (in
    steps) are constants of the compiled code (closure variables, which Numba freezes; its disk cache
    keys each copy by their values), so every loop over the assets in the row functions unrolls, the
    planner's kind and cash tests fold, and so does the day and period arithmetic: the same arithmetic
    in the same order, so the same bytes. Measured on 4,096 envs over ``default`` (5 assets, daily
    bars, weekly decisions), interleaved processes, medians of five: 8.1-8.4 -> 9.1-9.2 M env-steps/s
    at two threads and 4.6 -> 5.2 at one with the asset count, steps a day and period constant, and
    2-4 % more with the kinds and cash asset too. (``numba.literally`` on arguments gives the same
    code, but its dispatch re-types every call from Python: 8 ms a step.) A new layout compiles once,
    about 12 s here, then loads from the disk cache.
    """
    kinds = tuple(int(k) for k in kinds)
    cash_index, steps_per_day, period = int(cash_index), int(steps_per_day), int(period)

    @njit(cache=True, parallel=True, error_model="numpy")
    def vector_step_nb(
        blocks, rows, t, end, actions, key, mobs, recent, crypto3, leak, risky_weight,
        fee_rate, slippage, impact, deposit_step, risk_tolerance, time_to_goal,
        state, sell, buy, pre_fill, scratch, no_marks, reward_out, done_out, value_out, step_out, path_out, obs_out,
    ):  # fmt: skip
        """Every env, in chunks across threads (envs are independent: the bytes do not depend on the thread count).

        The parallel loop only hands out chunks of ``CHUNK_ENVS``; the work is the serial :func:`step_envs_nb`
        (a ``prange`` body holding the inlined step kernel itself miscompiled: books were not moved).
        ``sell``, ``buy``, ``pre_fill`` and ``scratch`` hold one work row per chunk. Returns how many envs
        finished (the env's branch on it, where ``done.any()`` on the threads' fresh writes took about 8 us).
        """
        n = rows.shape[0]
        n_done = 0
        for c in prange((n + CHUNK_ENVS - 1) // CHUNK_ENVS):
            n_done += step_envs_nb(
                c * CHUNK_ENVS, min((c + 1) * CHUNK_ENVS, n), blocks, rows, t, end, actions, key, mobs, recent,
                crypto3, leak, kinds, cash_index, risky_weight, fee_rate, slippage, impact, deposit_step, steps_per_day,
                period, risk_tolerance, time_to_goal, state, sell[c], buy[c], pre_fill[c], scratch[c], no_marks,
                reward_out, done_out, value_out, step_out, path_out, obs_out,
            )  # fmt: skip
        return n_done

    return vector_step_nb


@njit(cache=True, error_model="numpy", _nrt=False)
def reset_rows_nb(
    lo, hi, envs, paths, starts, amounts, close, cash_index, episode, rows, t, end, state, mobs, recent,
    steps_per_day, risk_tolerance, time_to_goal, crypto3, leak, period, scratch, obs_out,
):  # fmt: skip
    """For j in ``lo..hi - 1``: open env ``envs[j]``'s books in cash at the close of ``starts[j]`` on path
    ``paths[j]`` (``SimAdapter(start=...)``).

    ``scratch`` is one (OBS_SIZE + A,) work row. Loops, no slices, and no reference counting, as in
    :func:`step_envs_nb`, and the market rows of the env ``PREFETCH_AHEAD`` on are prefetched: resetting
    4,096 envs at two threads took 250-270 us before, about 240 without the slices, 195-210 with the
    prefetches (one process each, medians of four resets).
    """
    n_assets = state.holdings.shape[1]
    n_steps = close.shape[1]
    for j in range(lo, hi):
        ahead = j + PREFETCH_AHEAD
        if ahead < hi:  # the market rows env envs[ahead] will read (random rows: each a cache miss)
            q, s_ahead = paths[ahead], starts[ahead]
            row = (q * n_steps + s_ahead) * n_assets
            prefetch_nb(close, row)
            prefetch_nb(close, row + n_assets - 1)
            prefetch_nb(mobs, (q * n_steps + s_ahead) * mobs.shape[2])
            tail = (q * recent.shape[1] + (s_ahead + 1) // steps_per_day - 1) * recent.shape[2]
            prefetch_nb(recent, tail)
            prefetch_nb(recent, tail + recent.shape[2] - 1)
        i = envs[j]
        p = paths[j]
        s = starts[j]
        rows[i] = p
        t[i] = s
        end[i] = s + episode
        for a in range(n_assets):
            state.holdings[i, a] = 0.0
            state.basis[i, a] = 0.0
        state.holdings[i, cash_index] = amounts[j] / close[p, s, cash_index]
        state.basis[i, cash_index] = amounts[j]
        state.fees[i] = 0.0
        state.notional[i] = 0.0
        state.last_fill[i] = -(10**9)
        state.marked[i] = s
        state.value[i] = amounts[j]
        state.twr[i] = 1.0
        state.twr_mark[i] = 1.0
        state.day_growth[i] = 1.0
        for k in range(state.ring.shape[1]):
            state.ring[i, k] = 0.0
        state.ring_n[i] = 0
        state.contributed[i] = amounts[j]
        vol, sharpe = pnb.trailing_stats_row_nb(state, i)
        observe_row_nb(close, p, s, i, state, vol, sharpe, mobs, recent, steps_per_day, risk_tolerance[i],
                       time_to_goal[i], crypto3, leak, period, scratch, obs_out[i], n_assets)  # fmt: skip


@njit(cache=True, parallel=True, error_model="numpy")
def reset_envs_nb(
    envs, paths, starts, amounts, close, cash_index, episode, rows, t, end, state, mobs, recent, steps_per_day,
    risk_tolerance, time_to_goal, crypto3, leak, period, scratch, obs_out,
):  # fmt: skip
    """:func:`reset_rows_nb` for chunks of ``CHUNK_ENVS`` envs across threads, each with its own ``scratch`` row.

    Episodes are fixed in length and start together, so every env of a batch finishes at the same
    step, which resets all of them: at 4,096 envs the kernel took 0.3-1.0 ms on one thread and
    0.18-0.22 ms on two (the whole reset, draws included, 0.9-1.0 -> 0.28-0.30 ms at two threads).
    """
    k = envs.shape[0]
    for c in prange((k + CHUNK_ENVS - 1) // CHUNK_ENVS):
        reset_rows_nb(
            c * CHUNK_ENVS, min((c + 1) * CHUNK_ENVS, k), envs, paths, starts, amounts, close, cash_index, episode,
            rows, t, end, state, mobs, recent, steps_per_day, risk_tolerance, time_to_goal, crypto3, leak, period,
            scratch[c], obs_out,
        )  # fmt: skip


def refuse_booleans(actions) -> None:
    """A list of actions with a boolean among its integers is refused: ``np.asarray([True, 1, 2])`` is an integer array,
    and ``True`` ran as action 1 where the single env refuses it (review of 2026-12-04)."""
    if isinstance(actions, list | tuple) and any(
        isinstance(a, bool | np.bool_) or str(getattr(a, "dtype", "")) in ("bool", "torch.bool") for a in actions
    ):  # a 0-d boolean array or tensor among them too
        raise ValueError("actions: a boolean is not an action (integers in 0..6)")


INFO_KEYS = ("value", "step", "path")


def with_masks(values: dict, mask):
    """``values`` with Gymnasium's vector-info mask ``_key`` beside each ``key`` (which envs the entry is for)."""
    return {**values, **{f"_{k}": mask for k in values}}


@dataclass(frozen=True)
class EnvPool:
    """What a batched env reads of its market pool: blocks, the tabulated ranks and market state, the feature tail."""

    template: PortfolioEnv
    key: np.ndarray
    mobs: np.ndarray
    recent: np.ndarray
    crypto3: np.ndarray
    kind: np.ndarray
    cash_index: int
    deposit_step: np.ndarray

    @classmethod
    def build(cls, template: PortfolioEnv) -> EnvPool:
        from prometheus_sim.portfolio import AssetBook
        from prometheus_sim.portfolio.rules import contribution_steps

        market = template.market
        book = AssetBook.from_kinds(market.assets, market.asset_kinds, market.asset_sizes)
        kind = book.kind_codes
        pair = book.featured_columns(2)
        crypto3 = book.featured_columns(N_CRYPTO_FEATURED)
        key = np.empty(market.close.shape)
        # the state's market part and the feature tail only ever reach the float32 observation, so they are
        # kept in float32: rounding before or after the clip to +-OBS_BOUND (a float32 number) gives the same
        # observation, and the tables the step reads at random shrink by half (4,096 envs, 1 thread, a
        # 32-path pool: 2.72 -> 3.20 M env-steps/s)
        mobs = np.empty(market.close.shape[:2] + (N_MARKET_OBS,), dtype=np.float32)
        market_tables_nb(market.close, market.steps_per_day, kind, pair, key, mobs)
        recent = np.ascontiguousarray(template._recent, dtype=np.float32)
        return cls(
            template,
            key,
            mobs,
            recent,
            crypto3,
            kind,
            book.cash_index,
            contribution_steps(market.calendar, market.steps_per_day),
        )


@dataclass(frozen=True)
class ResetDraws:
    """Episode draws for some envs: market path, start step, risk profile (goal dated from the start)."""

    paths: np.ndarray
    starts: np.ndarray
    risk_tolerance: np.ndarray
    time_to_goal: np.ndarray
    amounts: np.ndarray

    @classmethod
    def draw(cls, rng: np.random.Generator, k: int, template: PortfolioEnv) -> ResetDraws:
        market = template.market
        starts = template.start_step(rng.integers(template._first_day, template._last_day + 1, size=k))
        months = rng.integers(6, 121, size=k)
        shift = np.round(starts / market.steps_per_day / DAYS_PER_MONTH).astype(np.int64)
        return cls(
            paths=rng.integers(market.n_paths, size=k), starts=starts, risk_tolerance=rng.uniform(0.0, 1.0, size=k),
            time_to_goal=months + shift, amounts=rng.choice(AMOUNTS, size=k),
        )  # fmt: skip

    def profile(self, j: int, steps_per_day: int):
        """Env j's draw as ``PortfolioEnv.reset`` options (the profile's months as drawn, before dating)."""
        from prometheus_sim.portfolio import RiskProfile

        shift = int(round(self.starts[j] / steps_per_day / DAYS_PER_MONTH))
        profile = RiskProfile(risk_tolerance=float(self.risk_tolerance[j]),
                              time_to_goal=int(self.time_to_goal[j]) - shift, investment_amount=float(self.amounts[j]))  # fmt: skip
        return {"path": int(self.paths[j]), "start": int(self.starts[j]), "profile": profile}


class PortfolioVectorEnv(gym.vector.VectorEnv):
    """``num_envs`` :class:`PortfolioEnv` stepped together in one Numba call (see the module docstring)."""

    metadata = {"autoreset_mode": gym.vector.AutoresetMode.SAME_STEP, "render_modes": []}

    def __init__(
        self,
        num_envs: int = 256,
        scenario: str = "default",
        n_paths: int = 16,
        seed: int | None = None,
        period_days: int = 7,
        episode_days: int = 182,
        costs: CostModel | None = None,
        horizon_days: int | None = None,
        market=None,
        leak_future: bool = False,
        pool: EnvPool | None = None,
        autoreset_mode: str | gym.vector.AutoresetMode = gym.vector.AutoresetMode.SAME_STEP,
        render_mode: str | None = None,
        max_episode_steps: int | None = None,
        forecaster=None,
        forecast_level: float | None = None,
        tracking_uri: str | None = None,
    ):
        # what gymnasium.make_vec passes a vector entry point (its sync mode took them, this one was a TypeError;
        # review of 2026-12-05, session 19): nothing renders, and an episode's length is episode_days
        if render_mode is not None:
            raise ValueError(f"render_mode: this env renders nothing (render_modes is empty), got {render_mode!r}")
        if max_episode_steps is not None:
            raise ValueError(f"max_episode_steps: an episode lasts episode_days ({episode_days} days); set "
                             f"episode_days instead, got max_episode_steps={max_episode_steps!r}")  # fmt: skip
        int_arg("num_envs", num_envs, 1)
        try:
            mode = gym.vector.AutoresetMode(autoreset_mode)
        except ValueError:
            mode = None
        if mode not in (gym.vector.AutoresetMode.SAME_STEP, gym.vector.AutoresetMode.NEXT_STEP):
            raise ValueError(f"autoreset_mode: gymnasium.vector.AutoresetMode.SAME_STEP or NEXT_STEP ('SameStep', "
                             f"'NextStep'), got {autoreset_mode!r}")  # fmt: skip
        self.autoreset_mode = mode
        self.metadata = {**type(self).metadata, "autoreset_mode": mode}  # what Gymnasium's wrappers read
        if num_envs > MAX_ENVS:  # 10**9 envs was a raw MemoryError from NumPy
            raise ValueError(f"num_envs: at most {MAX_ENVS:,} (each env holds about 700 bytes of books and a 50-value "
                             f"observation), got {num_envs:,}")  # fmt: skip
        if pool is not None:  # the pool's template holds the market, period, episode, costs and observation
            given = [k for k, v in (("scenario", scenario != "default"), ("n_paths", n_paths != 16),
                                    ("seed", seed is not None), ("period_days", period_days != 7),
                                    ("episode_days", episode_days != 182), ("costs", costs is not None),
                                    ("horizon_days", horizon_days is not None), ("market", market is not None),
                                    ("leak_future", leak_future is not False), ("forecaster", forecaster is not None),
                                    ("forecast_level", forecast_level is not None),
                                    ("tracking_uri", tracking_uri is not None)) if v]  # fmt: skip
            if given:  # they were ignored without a word: a run trained on other settings than it asked for
                raise ValueError(f"pool: given with {', '.join(given)}, which the pool's env already fixes; pass "
                                 "either a pool or those")  # fmt: skip
        if pool is None:
            template = PortfolioEnv(scenario=scenario, n_paths=n_paths, seed=seed, period_days=period_days,
                                    episode_days=episode_days, costs=costs, horizon_days=horizon_days, market=market,
                                    leak_future=leak_future, forecaster=forecaster,
                                    forecast_level=forecast_level, tracking_uri=tracking_uri)  # fmt: skip
            pool = EnvPool.build(template)
        self.pool = pool
        template = pool.template
        self.num_envs = int(num_envs)
        self.market = template.market
        self.costs = template.costs
        self._step_kernel = vector_step_kernel(tuple(pool.kind), pool.cash_index, self.market.steps_per_day,
                                               template._period)  # fmt: skip
        self.single_action_space = gym.spaces.Discrete(N_ACTIONS)
        self.single_observation_space = template.observation_space
        self.action_space = gym.vector.utils.batch_space(self.single_action_space, self.num_envs)
        self.observation_space = gym.vector.utils.batch_space(self.single_observation_space, self.num_envs)
        self._rules = RebalanceRules()
        n, n_assets = self.num_envs, len(self.market.assets)
        self.state = pnb.new_state(np.ones(n), np.ones(n), n_assets, pool.cash_index)
        self.rows = np.zeros(n, dtype=np.int64)
        self.t = np.zeros(n, dtype=np.int64)
        self.end = np.zeros(n, dtype=np.int64)
        self.risk_tolerance = np.zeros(n)
        self.risky_weight = np.zeros(n)
        self.time_to_goal = np.zeros(n, dtype=np.int64)
        n_chunks = -(-n // CHUNK_ENVS)
        self._sell = np.zeros((n_chunks, n_assets))
        self._buy = np.zeros((n_chunks, n_assets))
        self._pre_fill = np.zeros((n_chunks, n_assets))
        self._scratch = np.zeros((n_chunks, pnb.OBS_SIZE + n_assets))
        self._no_marks = np.empty((n, 0))  # no equity recorded: the step kernel's marks window is empty
        self._obs = np.zeros((n, self.single_observation_space.shape[0]), dtype=np.float32)
        self.last_draws: ResetDraws | None = None
        self._pending = np.zeros(n, dtype=np.bool_)  # next-step mode: envs that finished last step, reset on this one
        self._started = False

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        """Every env starts a new episode (draws from ``np_random``, seeded by ``seed``)."""
        super().reset(seed=seed)
        if options:
            raise ValueError(f"options: the batched env draws its episodes; got {sorted(options)}")
        self._obs = np.empty_like(self._obs)  # every row is written below; see step()
        self._pending[:] = False
        self._reset_envs(np.arange(self.num_envs, dtype=np.int64))
        self._started = True
        return self._obs, self._info()

    def step(self, actions):
        if not self._started:
            raise RuntimeError("call reset() before step()")
        refuse_booleans(actions)
        actions = np.asarray(actions)
        if actions.shape != (self.num_envs,) or not np.issubdtype(actions.dtype, np.integer):
            raise ValueError(
                f"actions: expected {self.num_envs} integers, got shape {actions.shape} of {actions.dtype}"
            )
        if actions.size and (actions.min() < 0 or actions.max() >= N_ACTIONS):
            bad = actions[(actions < 0) | (actions >= N_ACTIONS)][0]
            raise ValueError(f"action {bad}: must be an integer in 0..{N_ACTIONS - 1} (the guide's seven actions)")
        pool, tpl, costs = self.pool, self.pool.template, self.costs
        # a new array each step, which the kernel fills row by row (every env steps), is handed back as
        # it is: the env never writes to an observation array it returned, and no copy is made (a copy
        # of 4,096 observations took 11-16 us)
        self._obs = np.empty_like(self._obs)
        next_step = self.autoreset_mode == gym.vector.AutoresetMode.NEXT_STEP
        restart = np.flatnonzero(self._pending) if next_step else np.empty(0, dtype=np.int64)
        if restart.size:  # the kernel steps every env: these step from their new start, and are reset again below
            self._reset_envs(restart)
        # (actions: contiguous int64, copied only when they are not: a strided view compiled a second kernel, 12 s)
        # the kernel writes the step's outputs into new arrays, handed back as they are (no copies after it:
        # copying them out of the books cost about 20 us a step at 4,096 envs, the kernel's threads' writes
        # still in the other core's cache)
        n = self.num_envs
        reward, done = np.empty(n), np.empty(n, dtype=np.bool_)
        values = {"value": np.empty(n), "step": np.empty(n, dtype=np.int64), "path": np.empty(n, dtype=np.int64)}
        n_done = self._step_kernel(
            self.market.blocks, self.rows, self.t, self.end, np.ascontiguousarray(actions, dtype=np.int64), pool.key,
            pool.mobs, pool.recent, pool.crypto3, tpl.leak_future, self.risky_weight,
            costs.fees_bps / 1e4, costs.slippage_bps / 1e4, costs.impact, pool.deposit_step,
            self.risk_tolerance, self.time_to_goal,
            self.state, self._sell, self._buy, self._pre_fill, self._scratch, self._no_marks, reward, done,
            values["value"], values["step"], values["path"], self._obs,
        )  # fmt: skip
        if next_step:
            return self._next_step_outputs(restart, reward, done)
        if n_done == 0:
            return self._obs, reward, np.zeros(n, dtype=np.bool_), done, with_masks(values, np.ones(n, dtype=np.bool_))
        if n_done == n:  # the usual case (episodes have one length and start together): the step's array
            # is every env's final observation as it stands, and the resets fill a new one (a zeroed copy
            # of the finished rows took 100-170 us at 4,096 envs, up to 800 us when earlier ones were kept)
            final_obs = self._obs
            self._obs = np.empty_like(final_obs)
        else:
            final_obs = np.zeros_like(self._obs)  # the finished envs' rows only: a full np.where took longer
            final_obs[done] = self._obs[done]
        self._reset_envs(np.flatnonzero(done))
        infos = self._info()  # as Gymnasium's same-step mode has it: the new episodes' info, the last step's apart
        infos["final_obs"], infos["_final_obs"] = final_obs, done
        infos["final_info"], infos["_final_info"] = with_masks(values, done), done
        infos["final_value"] = np.where(done, values["value"], np.nan)
        return self._obs, reward, np.zeros(n, dtype=np.bool_), done, infos

    def close_extras(self, **kwargs) -> None:
        self._started = False

    # ------------------------------------------------------------ internals

    def _next_step_outputs(self, restart: np.ndarray, reward: np.ndarray, done: np.ndarray):
        """Gymnasium's next-step autoreset: an env that finished on the last step returns its new episode's first
        observation now, with reward 0, not truncated, its action ignored; one that finishes now returns its last
        observation, truncated, and starts again on the next step. The kernel stepped the restarted envs from
        their new start with the ignored action (it steps every env): the same draws open their books again,
        which costs one reset more an episode and keeps the step kernel as it is."""
        if restart.size:
            self._reset_envs(restart, self.last_draws)
            reward[restart] = 0.0
            done[restart] = False
        self._pending = done.copy()
        return self._obs, reward, np.zeros(self.num_envs, dtype=np.bool_), done, self._info()

    def _reset_envs(self, envs: np.ndarray, draws: ResetDraws | None = None) -> None:
        """Open ``envs``' books on new episodes (``draws``, or drawn now from ``np_random``)."""
        tpl = self.pool.template
        draws = ResetDraws.draw(self.np_random, len(envs), tpl) if draws is None else draws
        self.last_draws = draws
        self.risk_tolerance[envs] = draws.risk_tolerance
        self.risky_weight[envs] = self._rules.risky_weight(draws.risk_tolerance)
        self.time_to_goal[envs] = draws.time_to_goal
        pool = self.pool
        reset_envs_nb(
            envs, draws.paths, draws.starts, draws.amounts, self.market.close, pool.cash_index, tpl._episode,
            self.rows, self.t, self.end, self.state, pool.mobs, pool.recent, self.market.steps_per_day,
            self.risk_tolerance, self.time_to_goal, pool.crypto3, tpl.leak_future, tpl._period, self._scratch, self._obs,
        )  # fmt: skip

    def _values(self) -> dict:
        return {"value": self.state.value.copy(), "step": self.t.copy(), "path": self.rows.copy()}

    def _info(self) -> dict:
        return with_masks(self._values(), np.ones(self.num_envs, dtype=np.bool_))


def part_seeds(seed: int, n: int) -> list[int]:
    """Seeds of ``n`` market pools' envs for a run seeded ``seed``: the first is ``seed`` itself (a one-pool run draws
    the episodes it always drew), the others come from ``SeedSequence(seed)``. ``seed + k`` made pool 1 at seed 0
    replay pool 0's episodes at seed 1, so two seeds of a run on two scenarios were not independent (review)."""
    children = np.random.SeedSequence(seed).spawn(n - 1) if n > 1 else []
    return [int(seed)] + [int(c.generate_state(1, dtype=np.uint64)[0] >> np.uint64(1)) for c in children]


class PooledVectorEnv(gym.vector.VectorEnv):
    """Several :class:`PortfolioVectorEnv` (one per scenario's market pool) as one vector env: envs are
    split evenly across pools (the first pools take the remainder) and their outputs concatenated."""

    metadata = PortfolioVectorEnv.metadata

    def __init__(self, parts: list[PortfolioVectorEnv]):
        if not parts:
            raise ValueError("parts: at least one vector env")
        shapes = {p.single_observation_space.shape for p in parts}
        if len(shapes) != 1:
            raise ValueError(f"parts: observation shapes differ ({sorted(shapes)})")
        modes = {p.autoreset_mode for p in parts}
        if len(modes) != 1:
            raise ValueError(f"parts: autoreset modes differ ({sorted(m.value for m in modes)})")
        self.metadata = {**type(self).metadata, "autoreset_mode": modes.pop()}
        self.parts = parts
        self.num_envs = sum(p.num_envs for p in parts)
        self.single_action_space = parts[0].single_action_space
        self.single_observation_space = parts[0].single_observation_space
        self.action_space = gym.vector.utils.batch_space(self.single_action_space, self.num_envs)
        self.observation_space = gym.vector.utils.batch_space(self.single_observation_space, self.num_envs)
        self._bounds = np.cumsum([0] + [p.num_envs for p in parts])

    @staticmethod
    def split(num_envs: int, n_pools: int) -> list[int]:
        """Envs per pool: even, the first pools taking the remainder; every pool gets at least one."""
        if num_envs < n_pools:
            raise ValueError(f"num_envs: {num_envs} is fewer than the {n_pools} market pools (one env each at least)")
        return [num_envs // n_pools + (k < num_envs % n_pools) for k in range(n_pools)]

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        seeds = [None] * len(self.parts) if seed is None else part_seeds(seed, len(self.parts))
        outs = [p.reset(seed=s, options=options) for s, p in zip(seeds, self.parts, strict=True)]
        return np.concatenate([o for o, _ in outs]), self._merge([i for _, i in outs])

    def step(self, actions):
        refuse_booleans(actions)
        actions = np.asarray(actions)
        if actions.shape != (self.num_envs,) or not np.issubdtype(actions.dtype, np.integer):
            raise ValueError(
                f"actions: expected {self.num_envs} integers, got shape {actions.shape} of {actions.dtype}"
            )
        outs = [p.step(actions[a:b]) for p, a, b in zip(self.parts, self._bounds[:-1], self._bounds[1:], strict=True)]
        obs, rew, term, trunc = (np.concatenate([o[k] for o in outs]) for k in range(4))
        return obs, rew, term, trunc, self._merge([o[4] for o in outs])

    def close_extras(self, **kwargs) -> None:
        for part in self.parts:  # a step after close() is refused, as a single vector env refuses it
            part.close()

    def _merge(self, infos: list[dict]) -> dict:
        merged = with_masks({k: np.concatenate([i[k] for i in infos]) for k in INFO_KEYS},
                            np.ones(self.num_envs, dtype=np.bool_))  # fmt: skip
        if any("final_obs" in i for i in infos):
            done = np.concatenate([i.get("_final_obs", np.zeros(len(i["value"]), bool)) for i in infos])
            finals = [i.get("final_info", {k: i[k] for k in INFO_KEYS}) for i in infos]  # a part with none: its own
            merged["final_info"] = with_masks({k: np.concatenate([f[k] for f in finals]) for k in INFO_KEYS}, done)
            merged["_final_info"] = merged["_final_obs"] = done
            width = self.single_observation_space.shape[0]
            merged["final_obs"] = np.concatenate([i.get("final_obs", np.zeros((len(i["value"]), width), np.float32))
                                                  for i in infos])  # fmt: skip
            merged["final_value"] = np.concatenate([i.get("final_value", np.full(len(i["value"]), np.nan))
                                                    for i in infos])  # fmt: skip
        return merged


__all__ = [
    "INFO_KEYS",
    "EnvPool",
    "PooledVectorEnv",
    "PortfolioVectorEnv",
    "ResetDraws",
    "market_tables_nb",
    "vector_step_kernel",
]
