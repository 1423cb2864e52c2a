"""Recommendations submitted per second to Anvil, batched (nonces managed locally, every call simulated
and priced first, all sent, receipts awaited together) beside the naive way (simulate, send, wait for
the receipt, next), in one run, under automine and under interval mining; gas used per submission.

Target (the live issue): batched >= 10x the naive way under interval mining. Run::

    PYTHONPATH=. .venv/bin/python benchmarks/bench_chain.py [--users 100] [--block-time 1]
"""

from __future__ import annotations

import argparse
import re
import statistics
import tempfile
import time
from pathlib import Path

from eth_account import Account
from web3 import Web3

from adapters.chain.adapter import idempotency_key
from adapters.chain.commands import setup_devchain, start_anvil, stop_pid
from adapters.chain.config import ChainConfig
from adapters.chain.deploy import UNIT, seed_vaults
from adapters.chain.node import connect, web3_for
from adapters.chain.signer import Sender
from prometheus_sim.market import Market
from prometheus_sim.scenario import load_scenario

TARGET_RATIO = 10.0


def submissions(chain, users, round_no: int) -> list:
    btc = chain.token_of["BTC"]
    calls = []
    for u in users:
        legs = [(btc, 0, UNIT // 100)]
        calls.append(
            chain.engine.functions.submitAIRecommendation(
                u, legs, 9000, idempotency_key(u, chain.config.price_oracle, round_no)
            )
        )
    return calls


def batched(sender: Sender, calls: list, timeout_s: float) -> tuple[float, list]:
    t0 = time.perf_counter()
    prepared = [sender.prepare(fn, "submit") for fn in calls]
    hashes = [sender.send(p) for p in prepared]
    receipts = sender.wait(hashes, timeout_s)
    return len(calls) / (time.perf_counter() - t0), receipts


def naive(sender: Sender, calls: list, timeout_s: float) -> float:
    t0 = time.perf_counter()
    for fn in calls:
        sender.wait([sender.send(sender.prepare(fn, "submit"))], timeout_s)
    return len(calls) / (time.perf_counter() - t0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--naive", type=int, default=10, help="Submissions timed the naive way under interval mining.")
    parser.add_argument("--block-time", type=int, default=1, help="Seconds (Anvil takes whole seconds).")
    args = parser.parse_args()
    market = Market.simulate(load_scenario("scenarios/default.yaml").with_horizon(120), n_paths=1)
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "anvil.log"
        proc, url = start_anvil(log=log)
        try:
            w3 = web3_for(url)
            raw = setup_devchain(w3, market, 60, tmp, url)
            users = [Web3.to_checksum_address(Web3.keccak(text=f"bench user {i}")[-20:]) for i in range(args.users)]
            seed_vaults(w3, raw["vault_manager"], raw["tokens"], "USDC", users)
            chain = connect(ChainConfig(**{**raw, "users": []}))
            key = dict(re.findall(r"^\((\d)\) (0x[0-9a-f]{64})$", log.read_text(), re.MULTILINE))["1"]
            account = Account.from_key(key)
            sender = Sender(chain, account.address, account)
            rounds = iter(range(1, 1000))
            print(f"Anvil at {url}; {args.users} vaults; one recommendation (one leg) per user per round")
            auto_b, receipts = batched(sender, submissions(chain, users, next(rounds)), 120)
            gas = statistics.median(r.gasUsed for r in receipts)
            auto_n = naive(sender, submissions(chain, users[: args.naive * 3], next(rounds)), 60)
            print(f"automine: batched {auto_b:,.1f}/s, naive {auto_n:,.1f}/s, ratio {auto_b / auto_n:.1f}x")
            for method, params in (("evm_setAutomine", [False]), ("evm_setIntervalMining", [args.block_time])):
                answer = w3.provider.make_request(method, params)
                if "error" in answer:
                    raise RuntimeError(f"{method}{params}: {answer['error']}")
            int_b, _ = batched(sender, submissions(chain, users, next(rounds)), 300)
            int_n = naive(sender, submissions(chain, users[: args.naive], next(rounds)), 60)
            ratio = int_b / int_n
            print(f"interval mining ({args.block_time:g} s blocks): batched {int_b:,.1f}/s, naive {int_n:,.1f}/s, "
                  f"ratio {ratio:.1f}x (target >= {TARGET_RATIO:g}x: {'met' if ratio >= TARGET_RATIO else 'MISSED'})")  # fmt: skip
            print(f"gas per submission (median, one leg): {gas:,.0f} (the guide's limit: 500,000)")
        finally:
            stop_pid(proc.pid)
            proc.wait(timeout=10)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
