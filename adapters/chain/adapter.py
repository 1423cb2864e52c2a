"""``ChainAdapter``: the live side of the Adapter port, on a VaultManager, a PolicyEngine and a price oracle.

Steps are bars: the oracle's rounds, appended to a :class:`~prometheus_sim.datasource.DataSource`
warm-started from history, so step t is the index of bar t in the history the strategy sees (as
in a backtest). :class:`LiveClock` waits (by blocks or by an interval) until the bar a decision
needs exists. ``snapshot(t)`` reads every user's exact holdings, cost basis, risk profile and
``canRebalance`` at the latest block, prices at bar t.

``submit`` turns each user's orders into the PolicyEngine's typed legs (sells, then buys, in the
market's column order; fractions in 18 decimals), applies the guard rails, derives the
idempotency key (keccak of user and step: one recommendation a bar), skips keys the chain has already seen, simulates
every call (``eth_call`` + gas estimate) and then, only with ``execute=True``, signs and sends them
(each journalled as it is sent) before awaiting the receipts together. In a dry run (the default) each transaction is
described and nothing is sent. Every step goes to the journal.

The guide's ``PortfolioState`` live: ``unrealized_pnl`` from the vault's cost basis;
``volatility_30d`` and ``sharpe_ratio`` from the time-weighted returns between this adapter's
snapshots (deposits are not gains), annualised by the days between them; the regime from the
history's closes.
"""

from __future__ import annotations

import time
from functools import partial

import numpy as np
import pandas as pd
from web3 import Web3
from web3.logs import DISCARD

from adapters.chain.config import ChainConfig, refuse_repeated_users
from adapters.chain.journal import Journal
from adapters.chain.node import Chain, NodeDown
from adapters.chain.oracle import (
    age_refusal,
    latest_answers,
    latest_block_time,
    latest_round,
    move_refusal,
    read_round,
    rounds_text,
)
from adapters.chain.signer import Prepared, Reverted, Sender
from prometheus_sim.blocks import MarketBlocks
from prometheus_sim.datasource import HistorySource
from prometheus_sim.portfolio import OrderBatch, RebalanceRules, RiskProfiles, nb
from prometheus_sim.portfolio.model import PortfolioStates
from prometheus_sim.ports import DRY_RUN, FILLED, NOTHING, REFUSED, Receipts
from prometheus_sim.snapshot import MarketHistory, Marks, SnapshotBatch

WAD = 10**18
BUY, SELL = 0, 1
WINDOW = nb.WINDOW_DAYS
MAX_BALANCE = 1e15  # units (or value) of one asset in one vault: the portfolio cap used across the project


def idempotency_key(user: str, oracle: str, round_id: int) -> bytes:
    """keccak(user, oracle, round): one recommendation per user and oracle round (a bar), whatever its legs.

    The legs were part of the key until 2026-12-05; they are computed from holdings that the first send changes,
    so the same command run again at the same bar made other legs, another key, and a second batch of
    transactions (review: the oracle's nonce went 0 -> 5 -> 10). The bar was keyed by its index in this run's
    history until 2026-12-05 (session 19): a warm-start file one row longer on the next run shifted every index,
    and the same oracle round was traded again under a new key (review). The oracle's round is the chain's own
    name for the bar, and the oracle's address keeps a new oracle's round 1 apart from an old one's."""
    user, oracle = Web3.to_checksum_address(user), Web3.to_checksum_address(oracle)
    return bytes(Web3.keccak(text=f"{user}|{oracle}|round {int(round_id)}"))


def live_batch(t, users, book, holdings, value, profiles, states, can, history, steps_per_day, rules, marks):
    """A live :class:`SnapshotBatch` (also rebuilt from a journal by ``live replay``)."""
    n = len(users)
    close_t = history.close[0, t]
    return SnapshotBatch(
        step=t, timestamp=history.calendar[-1], users=users, book=book, holdings=holdings,
        prices=np.broadcast_to(close_t, (n, len(close_t))).copy(), value=value, profiles=profiles, state=states,
        can_rebalance=can, reward=np.full(n, np.nan), history=history, steps_per_day=steps_per_day, rules=rules,
        marks=marks,
    )  # fmt: skip


def broadcast_history(hist: MarketHistory, t: int, n: int) -> MarketHistory:
    """One path's history cut at t, seen by n users (broadcast views: no copies)."""
    cut = MarketBlocks(*(np.broadcast_to(arr[:, : t + 1], (n, t + 1) + arr.shape[2:]) for arr in hist.blocks))
    return MarketHistory(cut, hist.calendar[: t + 1], hist.absent)


def deployment_of(chain: Chain) -> dict:
    """What tells one deployment from another in a journal: the chain id, its genesis block's hash (Anvil gives a dev
    chain the same id and contract addresses at every start) and the three contracts' addresses."""
    genesis = chain.call(chain.w3.eth.get_block, 0)["hash"]
    return {"chain_id": int(chain.call(lambda: chain.w3.eth.chain_id)), "genesis": Web3.to_hex(genesis),
            "vault_manager": chain.config.vault_manager, "policy_engine": chain.config.policy_engine,
            "price_oracle": chain.config.price_oracle}  # fmt: skip


class ChainAdapter:
    """See the module docstring."""

    def __init__(self, chain: Chain, source: HistorySource, *, users: list[str] | None = None, execute: bool = False,
                 sender: Sender | None = None, journal: Journal | None = None, rules: RebalanceRules | None = None,
                 strategy: dict | None = None):  # fmt: skip
        self.chain = chain
        self.config: ChainConfig = chain.config
        self.source = source
        if tuple(source.assets) != tuple(self.config.assets):
            raise ValueError(f"history: assets {list(source.assets)} differ from the config's tokens "
                             f"{list(self.config.assets)}")  # fmt: skip
        if source.steps_per_day != self.config.steps_per_day:  # daily closes read as hours: a 30-day window of
            # a strategy became 720 days of history (review of 2026-12-05, session 19)
            raise ValueError(f"history: its bars are {source.steps_per_day} a day, the config's steps_per_day is "
                             f"{self.config.steps_per_day}; warm-start from a history at the oracle's own bar "
                             "spacing")  # fmt: skip
        chosen = users or list(self.config.users) or chain.call(chain.vault.functions.getUsers().call)
        if not chosen:
            raise ValueError("users: no vaults on the VaultManager and none in the config")
        self.users = np.array([Web3.to_checksum_address(u) for u in chosen], dtype=object)
        refuse_repeated_users(self.users)
        for u in self.users:
            if not chain.call(chain.vault.functions.hasVault(u).call):
                raise ValueError(f"users: {u} has no vault on the VaultManager at {self.config.vault_manager}")
        if execute and sender is None:
            raise ValueError("execute: a Sender with a key is required to send transactions")
        self.execute = execute
        self.sender = sender
        self.journal = journal
        self.rules = rules or RebalanceRules()
        self.book = source.book()
        self.steps_per_day = self.config.steps_per_day
        self.base = source.n_steps  # bar index of the oracle's round 1
        self._tokens = [chain.token_of[a] for a in source.assets]
        self._rounds_read = 0
        self._updated_at: dict[int, int] = {}  # bar -> when the oracle wrote its oldest answer (chain time)
        self._last: dict | None = None
        # the trailing statistics' window, kept as the step kernel keeps it (daily returns of the marked book); from
        # the first snapshot, with the users then
        self._stats: nb.BookState | None = None
        self._day_value = np.zeros(0)  # the books' value at the last day's close seen
        self._new_deposits = np.zeros(0)  # deposited since that close: out of the next day's return
        # max_period_value's count: value filled per UTC day of the chain's clock, from this journal's earlier fills
        # too. It was this process's running total, never reset (a long run ended refusing everything) and gone on a
        # restart (two bars traded 1.5 times the cap across one; review of 2026-12-05)
        self._deployment = deployment_of(chain)
        self._sent, self._traded_by_day, unreceipted = self._earlier_sends(journal, self._deployment)
        self._count_unreceipted(unreceipted)
        self._period_day = -1
        self._closed = False
        if journal:
            warm = source.history()
            journal.write("start", config=self.config.to_json(), deployment=self._deployment, users=list(self.users),
                          execute=execute, strategy=strategy,
                          assets=list(source.assets), asset_kinds=list(source.asset_kinds),
                          asset_sizes=None if source.asset_sizes is None else list(source.asset_sizes),
                          steps_per_day=self.steps_per_day, rules=vars(self.rules),
                          warm_start={"calendar": [str(x) for x in warm.calendar], "close": warm.close[0].tolist(),
                                      "absent": list(source.absent)})  # fmt: skip

    # ------------------------------------------------------------ time

    def latest_step(self) -> int:
        """The last bar the oracle has (``base - 1`` before its first round)."""
        return self.base + latest_round(self.chain, self._tokens) - 1

    def _catch_up(self, t: int) -> None:
        need = t - self.base + 1
        for rid in range(self._rounds_read + 1, need + 1):
            close, updated = read_round(self.chain, self._tokens, rid)
            stamp = self.source.history().calendar[-1] + pd.Timedelta(days=1) / self.steps_per_day
            self.source.append(stamp, close)
            self._updated_at[self.base + rid - 1] = updated
            if self.journal:
                self.journal.write("bar", step=self.base + rid - 1, round=rid, timestamp=str(stamp), close=close.tolist(),
                                   updated_at=int(updated))  # fmt: skip
            self._rounds_read = rid

    # ------------------------------------------------------------ the port

    def snapshot(self, t: int) -> SnapshotBatch:
        self._check_open()
        latest = self.latest_step()
        if t > latest:
            raise ValueError(f"step {t}: the oracle has bars up to {latest} only (LiveClock waits for them)")
        if t < self.base - 1 or (self._last and t < self._last["step"]):
            raise ValueError(f"step {t} is in the past for this live run")
        self._catch_up(t)
        hist_full = self.source.history()
        n, n_assets = len(self.users), len(self._tokens)
        close_t = hist_full.close[0, t]
        holdings, basis = np.empty((n, n_assets)), np.empty((n, n_assets))
        profiles, can, deposited = [], np.empty(n, dtype=bool), np.empty(n)
        for i, user in enumerate(self.users):
            holdings[i], basis[i] = self._balances(user)
            rt, months, amount, monthly = self.chain.call(self.chain.vault.functions.getRiskProfile(user).call)
            can[i] = self.chain.call(self.chain.engine.functions.canRebalance(user).call)
            deposited[i] = self.chain.call(self.chain.vault.functions.deposited(user).call) / WAD
            # a vault set up without an investment amount: what was deposited stands for it (the profile needs > 0)
            invested = amount / WAD if amount else max(deposited[i], 1e-9)
            profiles.append((rt / 1e4, int(months), invested, monthly / WAD))
        prof = RiskProfiles(*(np.array(col) for col in zip(*profiles, strict=True)))
        value = (holdings * close_t).sum(axis=1)
        states = self._states(t, value, deposited, holdings, basis, close_t, hist_full)
        history = broadcast_history(hist_full, t, n)
        marks = self._marks(t, value, hist_full)
        self._last = {"step": t, "value": value, "deposited": deposited, "holdings": holdings}
        if self.journal:
            self.journal.write("snapshot", step=t, users=list(self.users), holdings=holdings.tolist(),
                               basis=basis.tolist(), prices=close_t.tolist(), value=value.tolist(),
                               profiles=[list(p) for p in profiles], can_rebalance=can.tolist(),
                               deposited=deposited.tolist(), unrealized=states.unrealized_pnl.tolist(),
                               volatility_30d=states.volatility_30d.tolist(), sharpe=states.sharpe_ratio.tolist(),
                               regime=states.regime.tolist())  # fmt: skip
        return live_batch(t, self.users, self.book, holdings, value, prof, states, can, history, self.steps_per_day,
                          self.rules, marks)  # fmt: skip

    def submit(self, t: int, orders: OrderBatch) -> Receipts:
        self._check_open()
        if self._last is None or t != self._last["step"]:
            raise ValueError(f"orders for step {t}: submit once per snapshot, for its step")
        n = len(self.users)
        orders.validate(self.book, step=t, n_paths=n)
        status = np.full(n, NOTHING, dtype=np.int8)
        detail = [""] * n
        nan = np.full((n, len(self._tokens)), np.nan)
        legs_all = [self._legs(orders, i) for i in range(n)]
        # what the guard rails value a trade at: the worse of bar t's closes and the oracle's latest answers
        prices_refusal, fill_prices = self._prices_refusal(t) if any(legs_all) else (None, self._last_prices())
        if any(legs_all):  # the cap's day, by the chain's clock
            self._period_day = int(latest_block_time(self.chain) // 86_400)
        prepared: list[tuple[int, Prepared, bytes, float]] = []
        planned = 0.0  # value this step's earlier users will trade: the period cap is for all users together
        for i, legs in enumerate(legs_all):
            if not legs:
                continue
            refusal, moved = prices_refusal, 0.0
            if refusal is None:
                refusal, moved = self._guard(orders, i, legs, planned, fill_prices)
            key = idempotency_key(self.users[i], self.config.price_oracle, t - self.base + 1)
            # at the pending block, and by the transactions this key was sent with before (this journal's 'sending'
            # lines): a run killed while its transactions were pending, then rerun, signed them all again (the key
            # was unused at the latest block) and reported the first run's trades as reverted (review of 2026-12-05)
            if refusal is None and self.chain.call(
                self.chain.engine.functions.usedKeys(key).call, block_identifier="pending"
            ):
                refusal = "already submitted (its idempotency key is used on chain): not sent again"
            if refusal is None:
                refusal = self._sent_before("0x" + key.hex())
            confidence_bps = int(round(float(orders.confidence[i]) * 10_000))
            text = (f"PolicyEngine.submitAIRecommendation(user={self.users[i]}, recs={self._describe(legs)}, "
                    f"confidenceBps={confidence_bps}, idempotencyKey=0x{key.hex()})")  # fmt: skip
            if refusal is not None:
                status[i], detail[i] = REFUSED, f"{text}: refused: {refusal}"
                self._log("refused", t, i, text=text, reason=refusal)
                continue
            fn = self.chain.engine.functions.submitAIRecommendation(self.users[i], legs, confidence_bps, key)
            try:
                prep = self.sender.prepare(fn, text) if self.sender else None
            except Reverted as exc:
                status[i], detail[i] = REFUSED, str(exc)
                self._log("reverted", t, i, text=text, reason=str(exc))
                continue
            planned += moved
            if not self.execute:
                # without the engine's authorised sender (oracle_account) nothing can be simulated: it would revert as
                # an unauthorised call, so the line says so rather than pass for a checked call (review)
                gas = f", gas {prep.tx['gas']}" if prep else " (not simulated: set oracle_account to simulate it)"
                status[i], detail[i] = DRY_RUN, f"DRY RUN (not sent): {text}{gas}"
                self._log("dry_run", t, i, text=text, gas=prep.tx["gas"] if prep else None)
                continue
            prepared.append((i, prep, key, moved))
        before = nan.copy()
        after = nan.copy()
        fees, notional = np.zeros(n), np.zeros(n)
        if prepared:
            for i, _, _, _ in prepared:
                before[i] = self._holdings(self.users[i])
            hashes = []
            # each journalled as it is signed, before it leaves, and again once the node took it: a send that fails
            # after others (funds run out, the node goes away), a crash or a timeout mid-send must not lose a hash that
            # may be on its way (reviews)
            for i, prep, key, moved in prepared:
                tag = "0x" + key.hex()
                h = self.sender.send(prep, partial(self._log_sending, t, i, tag, moved),
                                     partial(self._log_send_failed, t, i))  # fmt: skip
                hashes.append(h)
                self._log("transaction", t, i, tx_hash=h, idempotency_key=tag)
            receipts = self.sender.wait(hashes, self.config.receipt_timeout_s)
            block_prices: dict[int, np.ndarray] = {}
            for (i, _, key, _), h, rec in zip(prepared, hashes, receipts, strict=True):
                after[i] = self._holdings(self.users[i])
                if rec.status != 1:
                    used = self.chain.call(self.chain.engine.functions.usedKeys(key).call)
                    why = " (its idempotency key is used: an earlier transaction executed it)" if used else ""
                    status[i], detail[i] = REFUSED, f"{h}: reverted on chain{why}"
                    self._log("receipt", t, i, tx_hash=h, status=0, key_used=bool(used))
                    continue
                events = self.chain.engine.events.AIRecommendationExecuted().process_receipt(rec, errors=DISCARD)
                ev = events[0].args if events else {}
                fees[i] = ev.get("fees", 0) / WAD
                # at the prices it filled at: the oracle's answers in its block (and before it, in case a round
                # landed in that block after it), never below those the guard valued it at; read once a block
                if rec.blockNumber not in block_prices:
                    block_prices[rec.blockNumber] = np.maximum.reduce([
                        fill_prices, *(latest_answers(self.chain, self._tokens, b)[0]
                                       for b in (rec.blockNumber, rec.blockNumber - 1))])  # fmt: skip
                moved = np.abs(after[i] - before[i]) * block_prices[rec.blockNumber]
                moved[self.book.cash_index] = 0.0  # the traded value: what was sold plus what was bought
                notional[i] = float(moved.sum())
                self._traded_by_day[self._period_day] = self._traded_by_day.get(self._period_day, 0.0) + notional[i]
                status[i] = FILLED
                detail[i] = f"{h} (block {rec.blockNumber}, gas {rec.gasUsed})"
                self._log("receipt", t, i, tx_hash=h, status=1, block=rec.blockNumber, gas_used=rec.gasUsed,
                          notional=notional[i], chain_day=self._period_day,
                          event={k: (v.hex() if isinstance(v, bytes) else v) for k, v in dict(ev).items()})  # fmt: skip
        self._held = np.where(np.isnan(after), self._last["holdings"], after)
        if self.journal:
            self.journal.write("orders", step=t, action=orders.action.tolist(), sell=orders.sell_fraction.tolist(),
                               buy=orders.buy_fraction.tolist(), confidence=orders.confidence.tolist(),
                               status=status.tolist())  # fmt: skip
        return Receipts(t, self.users, status, None, fees, notional, before, after, tuple(detail))

    def close(self) -> None:
        if not self._closed and self.journal:
            self.journal.write("end")
            self.journal.close()
        self._closed = True

    # ------------------------------------------------------------ internals

    def _legs(self, orders: OrderBatch, i: int) -> list[tuple[str, int, int]]:
        legs = []
        for side, fractions in ((SELL, orders.sell_fraction[i]), (BUY, orders.buy_fraction[i])):
            for a, f in enumerate(fractions):
                if f > 0 and a != self.book.cash_index:
                    legs.append((self._tokens[a], side, int(round(min(float(f), 1.0) * WAD))))
        return legs

    def _guard(self, orders: OrderBatch, i: int, legs: list[tuple[str, int, int]], planned: float,
               fill_prices: np.ndarray) -> tuple[str | None, float]:  # fmt: skip
        """(why user i's legs may not be sent or None, the value they would trade at ``fill_prices``). ``planned`` is
        what the users before i in this step will trade: ``max_period_value`` holds for all users together, and each user checked
        alone let five users trade 2.7 times the cap in one step (review of 2026-12-05, session 19)."""
        rails = self.config.guard_rails
        paused = rails.pause_reason()
        if paused is not None:
            return paused, 0.0
        if float(orders.confidence[i]) < rails.confidence_floor:
            return (f"confidence {float(orders.confidence[i]):.3f} below guard_rails.confidence_floor "
                    f"{rails.confidence_floor}", 0.0)  # fmt: skip
        for token, _, amount in legs:
            asset = self.chain.asset_of[token]
            if rails.allowlist and asset not in rails.allowlist:
                return f"asset {asset} is not in guard_rails.allowlist {list(rails.allowlist)}", 0.0
            if amount / WAD > rails.max_trade_fraction + 1e-12:
                return (f"a leg moves {amount / WAD:.3f} of {asset}, above guard_rails.max_trade_fraction "
                        f"{rails.max_trade_fraction}", 0.0)  # fmt: skip
        moved = self._leg_value(self._last["holdings"][i], fill_prices, legs)
        traded = self._traded_by_day.get(self._period_day, 0.0)
        if traded + planned + moved > rails.max_period_value:
            return (f"trading {moved:,.0f} more would pass guard_rails.max_period_value {rails.max_period_value:,.0f} "
                    f"({traded:,.0f} filled this UTC day of the chain's clock, by this journal's runs (a send with "
                    "no receipt at its planned value), "
                    f"{planned:,.0f} planned this step for the users before)", moved)  # fmt: skip
        return None, moved

    def _leg_value(self, holdings: np.ndarray, prices: np.ndarray, legs: list[tuple[str, int, int]]) -> float:
        """The value a user's legs trade at ``prices`` (before costs): the sells' share of each holding, then the buys'
        share of the cash held after the sells, as the PolicyEngine spends it (valued on the cash before the sells, a
        rotation out of one asset into another counted at half its size; review). Fees are left in the sells'
        proceeds, so the figure is an upper bound."""
        cash = self.book.cash_index
        sold = sum(holdings[self._tokens.index(tok)] * prices[self._tokens.index(tok)] * x / WAD
                   for tok, side, x in legs if side == SELL)  # fmt: skip
        buy_share = min(sum(x / WAD for _, side, x in legs if side == BUY), 1.0)
        return sold + (holdings[cash] * prices[cash] + sold) * buy_share

    def _prices_refusal(self, t: int) -> tuple[str | None, np.ndarray]:
        """(Why nothing may be sent on bar t's prices (the contracts execute at the oracle's), or None; the prices a
        trade is valued at). Refused: a bar from the warm start, which no oracle round backs; a round older than
        ``max_price_age_s`` by the chain's clock; a move from the bar before above ``max_price_move``. Checked once a
        step, for every user. The prices are the worse of bar t's closes and the oracle's latest answers: at bar t's
        alone, fills at a later round 40 % higher counted at 0.71 of their value against ``max_period_value``, and
        a 480,000 day traded 559,680 (review of live mode, session 25)."""
        rails = self.config.guard_rails
        close = self.source.history().close[0]
        if t not in self._updated_at:
            why = f"bar {t} is warm-start history: no oracle round backs it, so the chain has no price for it"
            return why, close[t]
        why = age_refusal(self._updated_at[t], latest_block_time(self.chain), rails.max_price_age_s,
                          f"the oracle's round for bar {t}")  # fmt: skip
        prices = close[t]
        if why is None and t >= 1:
            why = move_refusal(close[t - 1], close[t], list(self.source.assets), rails.max_price_move,
                               f"from bar {t - 1} to bar {t}")  # fmt: skip
        if why is None:
            # the PolicyEngine trades at each asset's latest answer, which may be a later round than bar t (the feed
            # runs ahead of a decision): that price passes the same checks, against bar t's, or a jump in it after
            # the decision's bar was traded on unchecked (review of 2026-12-05, session 19: ETH at 3x filled)
            latest, updated, rounds = latest_answers(self.chain, self._tokens)
            what = f"the oracle's latest round ({rounds_text(rounds)}), at which the PolicyEngine trades"
            why = age_refusal(updated, latest_block_time(self.chain), rails.max_price_age_s, what)
            why = why or move_refusal(close[t], latest, list(self.source.assets), rails.max_price_move,
                                      f"from bar {t} to {what}")  # fmt: skip
            prices = np.maximum(close[t], latest)
        return why, prices

    def _describe(self, legs) -> str:
        return "[" + ", ".join(f"({self.chain.asset_of[t]} {'sell' if s == SELL else 'buy'} {x / WAD:.6f})"
                               for t, s, x in legs) + "]"  # fmt: skip

    def _holdings(self, user: str) -> np.ndarray:
        return self._balances(user)[0]

    def _balances(self, user: str) -> tuple[np.ndarray, np.ndarray]:
        """User's (units, cost basis) per configured token, from ``getBalances``, checked: a reply missing a
        token, with lists of different lengths, or with a balance or basis above ``MAX_BALANCE`` (2**256 - 1 was
        taken as a vault worth 7e63) is refused naming the user, not a KeyError or IndexError (review 2026-12-05)."""
        assets, units, cost = self.chain.call(self.chain.vault.functions.getBalances(user).call)
        if not len(assets) == len(units) == len(cost):
            raise ValueError(f"VaultManager.getBalances({user}): {len(assets)} assets, {len(units)} balances and "
                             f"{len(cost)} cost bases; they must match")  # fmt: skip
        col = {Web3.to_checksum_address(a): k for k, a in enumerate(assets)}
        missing = [self.chain.asset_of.get(tok, tok) for tok in self._tokens if tok not in col]
        if missing:
            raise ValueError(f"VaultManager.getBalances({user}): no balance for {missing} (the config's tokens)")
        held = np.array([units[col[tok]] / WAD for tok in self._tokens])
        basis = np.array([cost[col[tok]] / WAD for tok in self._tokens])
        if (held > MAX_BALANCE).any() or (basis > MAX_BALANCE).any():
            raise ValueError(f"VaultManager.getBalances({user}): a balance or cost basis above {MAX_BALANCE:g} units: "
                             "not a vault this tool acts on")  # fmt: skip
        return held, basis

    def _last_prices(self) -> np.ndarray:
        return self.source.history().close[0, self._last["step"]]

    def _marks(self, t: int, value: np.ndarray, hist: MarketHistory) -> Marks:
        """Values at every bar since the last snapshot: the holdings then (only this run's submissions move
        them) at each bar's close, and the value read now at t. Bars before the run's first snapshot are
        NaN: the vaults were not observed then."""
        first = 0 if self._last is None else self._last["step"] + 1
        steps = np.arange(first, t + 1)
        equity = np.full((len(self.users), len(steps)), np.nan)
        if self._last is not None and len(steps) > 1:
            equity[:, :-1] = self._held @ hist.close[0, first:t].T
        equity[:, -1] = value
        return Marks(steps, hist.calendar[first : t + 1].values, equity, None)

    def _states(self, t, value, deposited, holdings, basis, close_t, hist) -> PortfolioStates:
        """The guide's state numbers of every vault at t. Volatility and Sharpe are over the trailing 30 daily returns
        of the books, each day's from its last close's value to the next, deposits taken out, by the step kernel's own
        function (``nb.trailing_stats_row_nb``), so a policy reads live what it read in training. The days between
        two snapshots are valued at the holdings this run left (as :meth:`_marks` values them), the last at what the
        vaults hold now. Until 2026-12-04 a return was taken per snapshot (a week), scaled to a day: a volatility
        about 3.4 times lower than the env's for the same book, and Sharpe off in size and sign (review)."""
        n = len(self.users)
        if self._last is None:  # the statistics start at the first snapshot, as an episode's do
            self._stats = nb.new_state(np.ones(n), np.ones(n), 1, 0)
            self._day_value, self._new_deposits = value.copy(), np.zeros(n)
        elif t > self._last["step"]:
            p0 = self._last["step"]
            held = getattr(self, "_held", self._last["holdings"])
            between = held @ hist.close[0, p0 + 1 : t].T  # (n, bars strictly between the two snapshots)
            self._new_deposits = self._new_deposits + (deposited - self._last["deposited"])
            for k, s in enumerate(range(p0 + 1, t + 1)):
                if (s + 1) % self.steps_per_day:
                    continue  # not a day's close
                v = value if s == t else between[:, k]
                before = self._day_value
                growth = np.where(before > 0, (v - self._new_deposits) / np.where(before > 0, before, 1.0), 1.0)
                self._stats.ring[:, int(self._stats.ring_n[0]) % WINDOW] = np.nan_to_num(growth - 1.0)
                self._stats.ring_n[:] += 1
                self._day_value, self._new_deposits = v.copy(), np.zeros(n)
        vol, sharpe = np.zeros(n), np.zeros(n)
        for i in range(n):
            vol[i], sharpe[i] = nb.trailing_stats_row_nb(self._stats, i)
        regime = nb.regime_row_nb(hist.close, 0, t, self.steps_per_day, self.book.kind_codes)
        unrealized = (holdings * close_t).sum(axis=1) - basis.sum(axis=1)
        return PortfolioStates(unrealized, vol, sharpe, np.full(n, regime, dtype=np.int64))

    def _log_sending(self, t: int, i: int, key: str, planned: float, tx_hash: str) -> None:
        """Journalled before the transaction leaves, with the value it plans to trade and the cap's day: a rerun counts
        it against ``max_period_value`` until a receipt says otherwise (:meth:`_count_unreceipted`)."""
        self._sent.setdefault(key, []).append(tx_hash)
        self._log("sending", t, i, tx_hash=tx_hash, idempotency_key=key, planned_notional=planned,
                  chain_day=self._period_day)  # fmt: skip

    def _log_send_failed(self, t: int, i: int, tx_hash: str, error: str) -> None:
        self._log("send_failed", t, i, tx_hash=tx_hash, error=error[:500])

    @staticmethod
    def _earlier_sends(
        journal: Journal | None,
        deployment: dict | None = None,
    ) -> tuple[dict[str, list[str]], dict[int, float], dict[str, tuple[int, float]]]:
        """From this journal's earlier runs on ``deployment`` (:func:`deployment_of`): {idempotency key: the hashes it
        was sent with} ('sending' lines), {UTC day of the chain's clock: the value filled that day} (filled 'receipt'
        lines) and {hash: (day, planned value)} of the sends no receipt line answers (:meth:`_count_unreceipted`).

        A run on another deployment (another chain, another genesis: a dev chain taken down and up again deploys
        to the same addresses) traded nothing here: its fills filled this chain's cap before it had traded (review
        of live mode, session 25). A run journalled before deployments were recorded counts, as before."""
        from adapters.chain.journal import read_journal

        if journal is None or not journal.path.exists():
            return {}, {}, {}
        sent: dict[str, list[str]] = {}
        traded: dict[int, float] = {}
        planned: dict[str, tuple[int, float]] = {}
        receipted: set[str] = set()
        here = True  # lines before any start line: counted
        for line in read_journal(journal.path):
            if line.get("kind") == "start":
                here = deployment is None or line.get("deployment") in (None, deployment)
            if not here:
                continue
            if line.get("kind") == "sending" and line.get("idempotency_key") and line.get("tx_hash"):
                sent.setdefault(line["idempotency_key"], []).append(line["tx_hash"])
                if "planned_notional" in line:  # journalled since session 23
                    planned[line["tx_hash"]] = (int(line["chain_day"]), float(line["planned_notional"] or 0.0))
            elif line.get("kind") == "receipt" and line.get("tx_hash"):
                receipted.add(line["tx_hash"])
                if line.get("status") == 1 and "chain_day" in line:
                    day = int(line["chain_day"])
                    traded[day] = traded.get(day, 0.0) + float(line.get("notional") or 0.0)
        return sent, traded, {h: p for h, p in planned.items() if h not in receipted}

    def _count_unreceipted(self, unreceipted: dict[str, tuple[int, float]]) -> None:
        """Add to the cap's count what earlier runs sent and never saw a receipt for (a receipt wait that timed out, a
        crash between send and receipt), unless the chain says it reverted or the node dropped it: such trades were
        mined all the same, and a rerun on the same journal got the whole day's cap again (review, session 23: two
        trades of about 80,000 filled under a cap of 120,000). Counted at the value planned when sent (an upper bound,
        as the guard's); a 'sending' line written before the planned value was journalled counts nothing."""
        for tx_hash, (day, value) in unreceipted.items():
            if value <= 0.0:
                continue
            state, rec = self.chain.transaction_state(tx_hash)
            if state == "pending" or (state == "mined" and rec.status == 1):
                self._traded_by_day[day] = self._traded_by_day.get(day, 0.0) + value

    def _sent_before(self, key: str) -> str | None:
        """Why ``key`` may not be sent again, or None: a transaction sent with it before is pending or executed."""
        for h in self._sent.get(key, []):
            state, rec = self.chain.transaction_state(h)
            if state == "pending":
                return f"already sent by an earlier run ({h} is pending): not sent again"
            if state == "mined" and rec.status == 1:
                return f"already executed by an earlier run ({h}, block {rec.blockNumber}): not sent again"
        return None

    def _log(self, kind: str, t: int, i: int, **fields) -> None:
        if self.journal:
            self.journal.write(kind, step=t, user=self.users[i], **fields)

    def _check_open(self) -> None:
        if self._closed:
            raise ValueError("this ChainAdapter is closed; make a new one for another run")


class LiveClock:
    """Decision steps of a live run: every ``every`` bars from ``first``, ``n_decisions`` of them.

    A step is the oracle's next round (a bar). Waiting for it, the clock looks again every
    ``step_blocks`` new blocks or every ``step_seconds`` (the config's cadence), and gives up after
    ``timeout_s`` with a clear error.
    """

    def __init__(self, adapter: ChainAdapter, every: int, n_decisions: int, first: int | None = None,
                 timeout_s: float = 60.0, block_poll_s: float = 0.05):  # fmt: skip
        if every < 1 or n_decisions < 1:
            raise ValueError(f"every and steps: must be >= 1, got {every} and {n_decisions}")
        self.adapter = adapter
        self.every = every
        self.first = adapter.latest_step() if first is None else first
        self.n_decisions = n_decisions
        self.timeout_s = timeout_s
        self.block_poll_s = block_poll_s
        self.last_step = self.first + every * (n_decisions - 1)
        cfg = adapter.config
        self.step_blocks, self.step_seconds = cfg.step_blocks, cfg.step_seconds

    def __iter__(self):
        for k in range(self.n_decisions):
            step = self.first + k * self.every
            self.wait_for(step)
            yield step

    def wait_for(self, step: int) -> None:
        deadline = time.monotonic() + self.timeout_s
        chain = self.adapter.chain
        while self.adapter.latest_step() < step:
            if time.monotonic() > deadline:
                raise TimeoutError(f"bar {step} did not arrive within {self.timeout_s:.0f} s (is the oracle being fed? "
                                   "prometheus-sim devchain feed)")  # fmt: skip
            if self.step_seconds is not None:
                time.sleep(min(self.step_seconds, max(deadline - time.monotonic(), 0.0)))
                continue
            seen = chain.call(lambda: chain.w3.eth.block_number)
            while chain.call(lambda: chain.w3.eth.block_number) < seen + self.step_blocks:
                if time.monotonic() > deadline:
                    break
                time.sleep(self.block_poll_s)


__all__ = [
    "ChainAdapter",
    "LiveClock",
    "NodeDown",
    "broadcast_history",
    "idempotency_key",
    "live_batch",
]
