"""``TorchPortfolioVectorEnv``: the batched environment's step in torch, on the training device.

The one deliberate second implementation of the step (plan -> fill -> mark -> reward ->
observation), so that a GPU trainer keeps envs, replay and network on the device with no
host round trip per step. It reads the same :class:`~prometheus_sim.rl.vector.EnvPool` tables
and draws the same episodes from the same seeded generator as
:class:`~prometheus_sim.rl.vector.PortfolioVectorEnv`; the parity tests hold it to the Numba env
(float64 on CPU: values and rewards 1e-12 relative, plus 1e-12 absolute near 0; float32, the device setting:
values 1e-4 relative and rewards 1e-2 absolute over an episode, tested on CPU, for books whose daily moves are
above float32's flat-window floor, about 1.2e-5 of a day: a book held in a cash stablecoin of vol 1e-6 a year is
"flat" in float32, its volatility and Sharpe 0, where the Numba env computes them, Sharpe up to 16, and rewards then
differ by up to 0.16 a step; use float64 there). The rules it mirrors live in :mod:`prometheus_sim.portfolio.nb` (``plan_row_nb``,
``fill_row_nb``, ``advance_row_nb``, ``reward_nb``, ``observation_nb``); a change there needs the
same change here, which the parity tests catch.

Observations, rewards and flags come back as torch tensors; actions go in as a tensor (N,) of
integers 0..6.
"""

from __future__ import annotations

import numpy as np
import torch

from prometheus_sim.portfolio import RebalanceRules
from prometheus_sim.portfolio import nb as pnb
from prometheus_sim.rl.env import N_ACTIONS, OBS_BOUND, int_arg, last_whole_day
from prometheus_sim.rl.vector import EnvPool, ResetDraws, refuse_booleans, with_masks

W = pnb.WINDOW_DAYS


class TorchPortfolioVectorEnv:
    def __init__(self, num_envs: int, pool: EnvPool, device: str = "cpu", dtype: torch.dtype = torch.float64,
                 seed: int | None = None):  # fmt: skip
        from prometheus_sim.devices import check_device

        self.n = int_arg("num_envs", num_envs, 1)
        self.pool = pool
        self.tpl = pool.template
        self.device = torch.device(check_device(str(device)))  # 'tpu' or a missing GPU: a clear error, not torch's
        if dtype not in (torch.float32, torch.float64):  # float16 overflows a $1e6 book; integers cannot hold prices
            raise ValueError(f"dtype: torch.float32 (the device setting) or torch.float64 (parity), got {dtype}")
        self.dtype = dtype
        m = self.tpl.market
        as_t = lambda a: torch.tensor(np.asarray(a), dtype=dtype, device=self.device)  # noqa: E731 - a copy: sealed arrays are read-only
        self.open, self.close, self.volume = as_t(m.open), as_t(m.close), as_t(m.volume)
        self.key, self.mobs, self.recent = as_t(pool.key), as_t(pool.mobs), as_t(pool.recent)
        self.kind = torch.as_tensor(pool.kind, device=self.device)
        self.cash = pool.cash_index
        self.crypto3 = torch.as_tensor(pool.crypto3, device=self.device)
        self.spd = m.steps_per_day
        self.period = self.tpl._period
        self.episode = self.tpl._episode
        costs = self.tpl.costs
        self.fee, self.slip, self.impact = costs.fees_bps / 1e4, costs.slippage_bps / 1e4, costs.impact
        self.rules = RebalanceRules()
        self.obs_dim = self.tpl.observation_space.shape[0]
        n, a = self.n, m.close.shape[2]
        z = lambda *s: torch.zeros(s, dtype=dtype, device=self.device)  # noqa: E731
        self.h, self.basis = z(n, a), z(n, a)
        self.value, self.twr, self.twr_mark, self.day_growth = z(n), z(n), z(n), z(n)
        self.ring, self.fees = z(n, W), z(n)
        self.ring_n = torch.zeros(n, dtype=torch.long, device=self.device)
        self.rows = torch.zeros(n, dtype=torch.long, device=self.device)
        self.t, self.end = torch.zeros_like(self.rows), torch.zeros_like(self.rows)
        self.rt, self.risky, self.ttg = z(n), z(n), z(n)
        self.rng = np.random.default_rng(seed)
        noncash = torch.ones(a, dtype=torch.bool, device=self.device)
        noncash[self.cash] = False
        self.noncash = noncash
        self.is_crypto = (self.kind == pnb.KIND_CRYPTO) & noncash
        self.is_defensive = (self.kind != pnb.KIND_CRYPTO) & noncash
        self.env_index = torch.arange(n, device=self.device)
        self._started = False

    # ------------------------------------------------------------ the API

    def reset(self, seed: int | None = None):
        """Every env starts an episode; ``seed`` seeds the draws exactly as ``PortfolioVectorEnv.reset(seed)``."""
        if seed is not None:
            from gymnasium.utils import seeding

            self.rng, _ = seeding.np_random(seed)
        self._reset(torch.arange(self.n, device=self.device))
        self._started = True
        return self._observe(self.t)

    def step(self, actions: torch.Tensor):
        """(obs, reward, done, info), Gymnasium's same-step autoreset as ``PortfolioVectorEnv`` writes it: a finished
        env's last observation in ``info["final_obs"]``, its last ``value``, ``step`` and ``path`` in
        ``info["final_info"]`` (masks beside them) and its final value in ``info["final_value"]`` (NaN elsewhere);
        ``obs`` and ``info``'s own ``value``, ``step`` and ``path`` are the new episode's."""
        if not self._started:
            raise RuntimeError("call reset() before step()")
        refuse_booleans(actions)
        actions = torch.as_tensor(actions, device=self.device)
        integral = not (actions.dtype.is_floating_point or actions.dtype.is_complex or actions.dtype == torch.bool)
        if integral and actions.dtype != torch.int64:  # torch has no min/max for uint16..uint64: compare as int64
            actions = actions.to(torch.int64)  # a uint64 above 2**63 wraps negative, and is refused below
        if (actions.shape != (self.n,) or not integral or actions.min() < 0 or actions.max() >= N_ACTIONS):  # fmt: skip
            raise ValueError(f"actions: expected {self.n} integers in 0..{N_ACTIONS - 1}, got {actions.dtype} "
                             f"shaped {tuple(actions.shape)}")  # fmt: skip
        p, t = self.rows, self.t
        t1 = torch.minimum(t + self.period, self.end)
        sell, buy = self._plan(actions, p, t)
        self.twr_mark = self.twr.clone()
        self._fill(p, t + 1, sell, buy)
        self._mark(p, t + 1, t1)
        self.t = t1
        reward = self._reward()
        obs = self._observe(t1)
        done = t1 >= self.end
        final = obs.clone()
        last = {"value": self.value.clone(), "step": self.t.clone(), "path": self.rows.clone()}
        if bool(done.any()):
            self._reset(torch.nonzero(done).squeeze(1))
            obs = torch.where(done[:, None], self._observe(self.t), obs)
        every = torch.ones_like(done)
        info = {**with_masks({"value": self.value.clone(), "step": self.t.clone(), "path": self.rows.clone()}, every),
                "final_obs": final, "_final_obs": done, "final_info": with_masks(last, done),
                "_final_info": done, "final_value": torch.where(done, last["value"], torch.nan)}  # fmt: skip
        return obs, reward, done, info

    # ------------------------------------------------------------ the step, as the kernel does it

    def _plan(self, action, p, t):
        n, a = self.h.shape
        key = self.key[p, t]
        price = self.close[p, t]
        sell, buy = torch.zeros_like(self.h), torch.zeros_like(self.h)
        big = torch.finfo(self.dtype).max
        rows = self.env_index
        # BUY_CONSERVATIVE: 30 % to the calmest defensive asset, 20 % to the calmest crypto asset
        m = action == pnb.BUY_CONSERVATIVE
        for mask, share in ((self.is_defensive, pnb.CONSERVATIVE_DEFENSIVE), (self.is_crypto, pnb.CONSERVATIVE_CRYPTO)):
            if bool(mask.any()):
                pick = torch.where(mask, key, big).argmin(dim=1)
                buy[rows[m], pick[m]] = share
        m = action == pnb.BUY_MODERATE
        # in the env's dtype from the start: torch.where of two Python numbers is torch's default float32, which
        # rounds a share like 1/6 (three non-cash assets) before any cast
        buy[m] = self.noncash.to(self.dtype) * (pnb.BUY_CASH_SHARE / max(a - 1, 1))  # cash alone: nothing to buy
        m = action == pnb.BUY_AGGRESSIVE
        if bool(self.is_crypto.any()):
            wild = torch.where(self.is_crypto, key, -big).argmax(dim=1)
            buy[rows[m], wild[m]] = pnb.BUY_CASH_SHARE
        m = action == pnb.SELL_PARTIAL
        held = self.noncash & (self.h > 0)
        free = held.clone()
        for _ in range(pnb.SELL_PARTIAL_COUNT):
            pick = torch.where(free, key, -big).argmax(dim=1)
            ok = m & free[rows, pick]
            sell[rows[ok], pick[ok]] = pnb.SELL_PARTIAL_SHARE
            free[rows[ok], pick[ok]] = False
        m = action == pnb.SELL_MAJOR
        sell = torch.where(m[:, None] & held, torch.full_like(sell, pnb.SELL_MAJOR_SHARE), sell)
        m = action == pnb.REBALANCE
        if bool(m.any()):
            rs, rb = self._target_orders(price, m)
            sell = torch.where(m[:, None], rs, sell)
            buy = torch.where(m[:, None], rb, buy)
        return sell, buy

    def _target_orders(self, price, m):
        n_crypto = int(self.is_crypto.sum())
        target = torch.zeros_like(self.h)
        if n_crypto:
            target = torch.where(self.is_crypto, (self.risky / n_crypto)[:, None], target)
        target[:, self.cash] = 1.0 - (self.risky if n_crypto else 0.0)
        values = self.h * price
        total = values.sum(dim=1)
        goal = target * total[:, None]
        excess = values - goal
        sells = self.noncash & (excess > 0) & (values > 0)
        sell = torch.where(sells, torch.clamp(excess / torch.where(values > 0, values, 1.0), max=1.0), 0.0)
        cash_after = values[:, self.cash] + torch.where(sells, excess, 0.0).sum(dim=1)
        short = self.noncash & (goal - values > 0)
        safe = torch.where(cash_after > 0, cash_after, 1.0)[:, None]
        buy = torch.where(short & (cash_after > 0)[:, None], torch.clamp((goal - values) / safe, max=1.0), 0.0)
        spend = buy.sum(dim=1, keepdim=True)
        buy = torch.where(spend > 1.0, buy / spend, buy)
        return sell.to(self.dtype), buy.to(self.dtype)

    def _fill(self, p, s, sell, buy):
        price, ref_volume = self.open[p, s], self.volume[p, s - 1]
        c = self.cash
        cash_px = price[:, c]
        h, basis = self.h, self.basis
        f = torch.clamp(sell, max=1.0)
        f[:, c] = 0.0
        units = h * f
        selling = units > 0
        slip = torch.clamp(self.slip + self.impact * units / torch.clamp(ref_volume, min=1e-12), max=pnb.MAX_SLIPPAGE)
        notional = torch.where(selling, units * price * (1.0 - slip), 0.0)
        fee = notional * self.fee
        h -= torch.where(selling, units, 0.0)
        basis *= torch.where(selling, 1.0 - f, 1.0)
        proceeds = notional - fee
        h[:, c] += (proceeds / cash_px[:, None]).sum(dim=1)
        basis[:, c] += proceeds.sum(dim=1)
        self.fees += fee.sum(dim=1)
        cash_units = h[:, c].clone()
        unit_cost = torch.where(cash_units > 0, basis[:, c] / torch.where(cash_units > 0, cash_units, 1.0), 0.0)
        bought = torch.zeros_like(cash_units, dtype=torch.bool)
        for a in range(h.shape[1]):  # sequential, as the kernel: each buy spends from what is left
            if a == c:
                continue
            fa = buy[:, a]
            spend_units = torch.minimum(cash_units * torch.clamp(fa, max=1.0), h[:, c])
            go = (fa > 0) & (spend_units > 0)
            spend = spend_units * cash_px
            rough = spend / price[:, a]
            slip_a = torch.clamp(self.slip + self.impact * rough / torch.clamp(ref_volume[:, a], min=1e-12),
                                 max=pnb.MAX_SLIPPAGE)  # fmt: skip
            px = price[:, a] * (1.0 + slip_a)
            notional_a = spend / (1.0 + self.fee)
            h[:, a] += torch.where(go, notional_a / px, 0.0)
            basis[:, a] += torch.where(go, spend, 0.0)
            h[:, c] -= torch.where(go, spend_units, 0.0)
            self.fees += torch.where(go, spend - notional_a, 0.0)
            bought |= go
        basis[:, c] = torch.where(bought, unit_cost * h[:, c], basis[:, c])

    def _mark(self, p, first, last):
        for k in range(self.period):
            s = first + k
            live = s <= last
            sc = torch.minimum(s, last)
            value = (self.h * self.close[p, sc]).sum(dim=1)
            before = self.value
            growth = torch.where(before > 0, value / torch.where(before > 0, before, 1.0), 1.0)
            growth = torch.where(live, growth, 1.0)
            self.twr = self.twr * growth
            self.day_growth = self.day_growth * growth
            day_end = live & ((s % self.spd) == self.spd - 1) if self.spd > 1 else live
            slot = self.ring_n % W
            self.ring[self.env_index[day_end], slot[day_end]] = self.day_growth[day_end] - 1.0
            self.ring_n = self.ring_n + day_end.long()
            self.day_growth = torch.where(day_end, torch.ones_like(self.day_growth), self.day_growth)
            self.value = torch.where(live, value, self.value)

    def _stats(self):
        n = torch.clamp(self.ring_n, max=W)
        filled = torch.arange(W, device=self.device)[None, :] < n[:, None]
        nf = n.to(self.dtype)
        mean = torch.where(filled, self.ring, 0.0).sum(dim=1) / torch.clamp(nf, min=1.0)
        var = torch.where(filled, (self.ring - mean[:, None]) ** 2, 0.0).sum(dim=1) / torch.clamp(nf - 1.0, min=1.0)
        sd = torch.sqrt(var)
        # as trailing_stats_row_nb, a flat window has no volatility; float32's rounding (1.2e-7 of a day's growth)
        # needs a floor of its own, far below a real portfolio's daily moves (1e-4 and up)
        flat = pnb.FLAT_SD if self.dtype == torch.float64 else 100.0 * torch.finfo(self.dtype).eps
        ok = (n >= 2) & (sd > flat * torch.clamp(mean.abs(), min=1.0))
        vol = torch.where(ok, sd * np.sqrt(pnb.DAYS_PER_YEAR), 0.0)
        sharpe = torch.where(ok, mean / torch.where(ok, sd, 1.0) * np.sqrt(pnb.DAYS_PER_YEAR), 0.0)
        return vol, sharpe

    def _months(self, step):
        return torch.clamp(self.ttg - (step.to(self.dtype) / self.spd) / pnb.DAYS_PER_MONTH, min=0.0)

    def _reward(self):
        vol, sharpe = self._stats()
        months = self._months(self.t)
        r = 100.0 * (self.twr / self.twr_mark - 1.0) - 10.0 * vol * (1.0 - self.rt) + 0.01 * sharpe
        bonus = torch.where(vol < 0.1, torch.full_like(vol, 0.1), torch.full_like(vol, -0.1))  # float64, not float32
        return r + torch.where(months <= 12.0, bonus, torch.zeros_like(vol))

    def _observe(self, t):
        p = self.rows
        price = self.close[p, t]
        held = self.h * price
        value = held.sum(dim=1)
        unrealized = (held - self.basis).sum(dim=1)
        weights = torch.nan_to_num(held / value[:, None], nan=0.0, posinf=0.0, neginf=0.0)
        vol, sharpe = self._stats()
        o = torch.zeros((self.n, pnb.OBS_SIZE), dtype=self.dtype, device=self.device)
        o[:, 0] = value / 1e6
        o[:, 1] = torch.where(value > 0, unrealized / torch.where(value > 0, value, 1.0), 0.0)
        o[:, 2], o[:, 3] = vol, sharpe
        top = torch.sort(weights, dim=1, descending=True).values[:, : pnb.OBS_TOP_ALLOCATIONS]
        o[:, 4 : 4 + top.shape[1]] = top
        o[:, 14] = self.rt
        o[:, 15] = self._months(t) / 120.0
        o[:, 17:23] = self.mobs[p, t]
        parts = [o, self.recent[p, last_whole_day(t, self.spd)]]
        obs = torch.clamp(torch.nan_to_num(torch.cat(parts, dim=1), nan=0.0), -OBS_BOUND, OBS_BOUND)
        if self.tpl.leak_future:
            ahead = torch.clamp(t + self.period, max=self.close.shape[1] - 1)
            idx = torch.clamp(self.crypto3, min=0)
            leak = torch.log(self.close[p, ahead][:, idx] / self.close[p, t][:, idx]) * 10.0
            obs = torch.cat([obs, torch.where(self.crypto3 >= 0, leak, 0.0)], dim=1)
        return obs.to(torch.float32)

    def _reset(self, envs: torch.Tensor):
        k = int(envs.numel())
        draws = ResetDraws.draw(self.rng, k, self.tpl)
        self.last_draws = draws
        as_t = lambda a, dt=self.dtype: torch.as_tensor(a, dtype=dt, device=self.device)  # noqa: E731
        p, s = as_t(draws.paths, torch.long), as_t(draws.starts, torch.long)
        amount = as_t(draws.amounts)
        self.rows[envs], self.t[envs], self.end[envs] = p, s, s + self.episode
        self.rt[envs] = as_t(draws.risk_tolerance)
        self.risky[envs] = as_t(self.rules.risky_weight(draws.risk_tolerance))
        self.ttg[envs] = as_t(draws.time_to_goal)
        self.h[envs] = 0.0
        self.h[envs, self.cash] = amount / self.close[p, s, self.cash]
        self.basis[envs] = 0.0
        self.basis[envs, self.cash] = amount
        self.value[envs], self.fees[envs] = amount, 0.0
        self.twr[envs], self.twr_mark[envs], self.day_growth[envs] = 1.0, 1.0, 1.0
        self.ring[envs], self.ring_n[envs] = 0.0, 0


__all__ = ["TorchPortfolioVectorEnv"]
