"""Reading the price oracle, and the checks a price must pass before anything is sent on it.

The contracts execute every recommendation and auto-rebalance at the oracle's prices, so a price that is not a
price (zero or negative), that is old (the feed stopped) or that jumped (a glitch, a manipulated round) would
trade real holdings at a wrong value. Reads refuse what cannot be a price at once (the run stops with a named
error); the guard rails ``max_price_age_s`` and ``max_price_move`` refuse to send on a stale or jumping price and
say why, and the run goes on.
"""

from __future__ import annotations

import numpy as np

from adapters.chain.node import Chain

PRICE_SCALE = 1e8  # the oracle's answers have 8 decimals, as Chainlink's USD feeds


def _price(answer: int, what: str) -> float:
    if answer <= 0:
        raise ValueError(f"oracle: {what} answered {answer}, which is not a price (must be > 0); nothing is decided "
                         "or sent on it")  # fmt: skip
    return answer / PRICE_SCALE


def read_round(chain: Chain, tokens: list[str], round_id: int) -> tuple[np.ndarray, int]:
    """One oracle round as a bar's closes (8-decimal answers), and when its oldest answer was written."""
    close = np.empty(len(tokens))
    updated = None
    for k, token in enumerate(tokens):
        _, answer, _, stamp, _ = chain.call(chain.oracle.functions.getRoundData(token, round_id).call)
        close[k] = _price(int(answer), f"round {round_id} of {chain.asset_of.get(token, token)}")
        updated = int(stamp) if updated is None else min(updated, int(stamp))
    return close, int(updated or 0)


def latest_round(chain: Chain, token: str) -> int:
    return int(chain.call(chain.oracle.functions.latestRoundData(token).call)[0])


def latest_answers(chain: Chain, tokens: list[str]) -> tuple[np.ndarray, int, int]:
    """Each token's latest answer, as ``PriceOracle.priceOf`` gives the contracts when they execute (not a round of
    this tool's choosing), with when the oldest of them was written and the newest round id among them."""
    close = np.empty(len(tokens))
    updated, newest = None, 0
    for k, token in enumerate(tokens):
        rid, answer, _, stamp, _ = chain.call(chain.oracle.functions.latestRoundData(token).call)
        close[k] = _price(int(answer), f"the latest round ({int(rid)}) of {chain.asset_of.get(token, token)}")
        updated = int(stamp) if updated is None else min(updated, int(stamp))
        newest = max(newest, int(rid))
    return close, int(updated or 0), newest


def latest_block_time(chain: Chain) -> int:
    """The latest block's timestamp: the chain's clock, against which a price's age is taken."""
    return int(chain.call(lambda: chain.w3.eth.get_block("latest")["timestamp"]))


def age_refusal(updated_at: int, now: int, max_age_s: float, what: str) -> str | None:
    """Why nothing may be sent on a price written at ``updated_at`` (chain time ``now``), or None."""
    age = now - updated_at
    if age > max_age_s:
        return (f"{what} was written {age:,} s before the latest block, above guard_rails.max_price_age_s "
                f"{max_age_s:,.0f} (has the feed stopped?)")  # fmt: skip
    return None


def move_refusal(before: np.ndarray, now: np.ndarray, assets: list[str], max_move: float, what: str) -> str | None:
    """Why nothing may be sent on prices ``now`` after ``before`` (one per asset), or None: the largest relative
    move, when it is above ``max_move``."""
    move = now / before - 1.0
    k = int(np.argmax(np.abs(move)))
    if abs(move[k]) > max_move:
        return (f"{assets[k]} moved {move[k]:+.1%} {what}, above guard_rails.max_price_move {max_move:g} "
                "(an oracle glitch, or a move too large to trade on automatically)")  # fmt: skip
    return None


def latest_prices_refusal(chain: Chain, tokens: list[str]) -> str | None:
    """The guard rails on the oracle's latest round of each token, as ``autoRebalance`` will price it: its age, and
    its move from the round before. None when it may be used."""
    rails = chain.config.guard_rails
    now = latest_block_time(chain)
    names = [chain.asset_of.get(t, t) for t in tokens]
    close, updated, rid = latest_answers(chain, tokens)
    why = age_refusal(updated, now, rails.max_price_age_s, f"the oracle's latest round ({rid})")
    if why is None and rid > 1:
        before, _ = read_round(chain, tokens, rid - 1)
        why = move_refusal(before, close, names, rails.max_price_move, f"from oracle round {rid - 1} to {rid}")
    return why


__all__ = [
    "PRICE_SCALE",
    "age_refusal",
    "latest_answers",
    "latest_block_time",
    "latest_prices_refusal",
    "latest_round",
    "move_refusal",
    "read_round",
]
