"""Reading the price oracle, and the checks a price must pass before anything is sent on it.

The contracts execute every recommendation and auto-rebalance at the oracle's prices, so a price that is not a
price (zero or negative), that is old (the feed stopped) or that jumped (a glitch, a manipulated round) would
trade real holdings at a wrong value. Reads refuse what cannot be a price at once (the run stops with a named
error); the guard rails ``max_price_age_s`` and ``max_price_move`` refuse to send on a stale or jumping price and
say why, and the run goes on.
"""

from __future__ import annotations

from functools import partial

import numpy as np

from adapters.chain.node import Chain

PRICE_SCALE = 1e8  # the oracle's answers have 8 decimals, as Chainlink's USD feeds


def _price(answer: int, what: str) -> float:
    if answer <= 0:
        raise ValueError(f"oracle: {what} answered {answer}, which is not a price (must be > 0); nothing is decided "
                         "or sent on it")  # fmt: skip
    return answer / PRICE_SCALE


def _round_stamps(chain: Chain, tokens: list[str], round_id: int) -> tuple[np.ndarray, list[int]]:
    close = np.empty(len(tokens))
    stamps = []
    for k, token in enumerate(tokens):
        _, answer, _, stamp, _ = chain.call(chain.oracle.functions.getRoundData(token, round_id).call)
        close[k] = _price(int(answer), f"round {round_id} of {chain.asset_of.get(token, token)}")
        stamps.append(int(stamp))
    return close, stamps


def read_round(chain: Chain, tokens: list[str], round_id: int) -> tuple[np.ndarray, int]:
    """One oracle round as a bar's closes (8-decimal answers), and when its oldest answer was written.

    Round k of every token is bar k only while the tokens' rounds stay in step: each bar's answers written together
    (one ``setPrices``, or one transaction a token in a short while), closer to each other than to the round before.
    A price pushed for some assets alone puts them a round ahead for good; read as bars, every later bar then mixed
    one asset's price of a bar with the others' of the next, without a word (review of 2026-12-05, session 19). A
    round whose answers are spread over at least the time since the round before stops the read with a named
    error."""
    close, stamps = _round_stamps(chain, tokens, round_id)
    if round_id > 1 and max(stamps) > min(stamps):
        _, before = _round_stamps(chain, tokens, round_id - 1)
        if max(stamps) - min(stamps) >= min(stamps) - max(before):
            when = ", ".join(f"{chain.asset_of.get(t, t)} at {s}" for t, s in zip(tokens, stamps, strict=True))
            raise ValueError(f"oracle: round {round_id} is not one bar: its answers were written over "
                             f"{max(stamps) - min(stamps)} s ({when}), no closer together than to round "
                             f"{round_id - 1}'s, so the tokens' rounds are out of step (a price pushed for some "
                             "assets alone?); nothing is decided or sent on it")  # fmt: skip
    return close, min(stamps)


def latest_round(chain: Chain, tokens: list[str]) -> int:
    """The last round every token has (the first token's alone let a bar count as there before the others had it)."""
    return min(int(chain.call(chain.oracle.functions.latestRoundData(t).call)[0]) for t in tokens)


def latest_answers(chain: Chain, tokens: list[str], block: int | str = "latest") -> tuple[np.ndarray, int, np.ndarray]:
    """Each token's latest answer, as ``PriceOracle.priceOf`` gives the contracts when they execute (not a round of
    this tool's choosing), with when the oldest of them was written and each token's round id; at ``block``'s end
    (a transaction's block: the prices it filled at, unless the oracle moved earlier in that block)."""
    close = np.empty(len(tokens))
    rounds = np.empty(len(tokens), dtype=np.int64)
    updated = None
    for k, token in enumerate(tokens):
        read = partial(chain.oracle.functions.latestRoundData(token).call, block_identifier=block)
        rid, answer, _, stamp, _ = chain.call(read)
        close[k] = _price(int(answer), f"the latest round ({int(rid)}) of {chain.asset_of.get(token, token)}")
        updated = int(stamp) if updated is None else min(updated, int(stamp))
        rounds[k] = int(rid)
    return close, int(updated or 0), rounds


def rounds_text(rounds: np.ndarray) -> str:
    """The latest round ids as a reader names them: one number when the tokens are in step."""
    return str(int(rounds[0])) if len(set(rounds.tolist())) == 1 else "/".join(str(int(r)) for r in rounds)


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
    close, updated, rounds = latest_answers(chain, tokens)
    why = age_refusal(updated, now, rails.max_price_age_s, f"the oracle's latest round ({rounds_text(rounds)})")
    if why is None and (rounds > 1).all():
        # each token's latest answer against its own round before (a round id read off one token and used for all
        # let a push of BTC alone make ETH's 3x answer pass as unmoved; review of 2026-12-05, session 19)
        before = np.array([_price(int(chain.call(chain.oracle.functions.getRoundData(t, int(r) - 1).call)[1]),
                                  f"round {int(r) - 1} of {chain.asset_of.get(t, t)}")
                           for t, r in zip(tokens, rounds, strict=True)])  # fmt: skip
        why = move_refusal(
            before,
            close,
            names,
            rails.max_price_move,
            f"from the oracle's round before its latest ({rounds_text(rounds)})",
        )
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
    "rounds_text",
]
