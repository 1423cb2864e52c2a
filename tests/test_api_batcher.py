"""MicroBatcher: concurrent requests share model calls, batches grow while a call runs, errors reach every waiter."""

from __future__ import annotations

import asyncio
import time

import pytest

from prometheus_sim.api.batcher import MicroBatcher


def slow_double(items: list) -> list:
    time.sleep(0.01)  # a model call's fixed cost
    return [2 * x for x in items]


def test_concurrent_requests_share_calls_and_keep_their_answers():
    async def main():
        b = MicroBatcher(slow_double, max_batch=16, window_s=0.002)
        out = await asyncio.gather(*(b.submit(i) for i in range(100)))
        b.close()
        return out, b.batches

    out, batches = asyncio.run(main())
    assert out == [2 * i for i in range(100)]
    assert batches <= 8  # 100 requests, at most 16 a call: 7 calls when batching works, 100 when it does not


def test_switched_off_every_request_is_its_own_call():
    async def main():
        b = MicroBatcher(slow_double, enabled=False)
        out = await asyncio.gather(*(b.submit(i) for i in range(10)))
        b.close()
        return out, b.batches

    out, batches = asyncio.run(main())
    assert out == [2 * i for i in range(10)] and batches == 10


def test_a_failing_call_fails_every_request_in_it_and_the_next_ones_still_run():
    calls = []

    def flaky(items):
        calls.append(len(items))
        if len(calls) == 1:
            raise RuntimeError("model failed")
        return items

    async def main():
        b = MicroBatcher(flaky, max_batch=4, window_s=0.01)
        first = await asyncio.gather(*(b.submit(i) for i in range(4)), return_exceptions=True)
        second = await b.submit(9)
        b.close()
        return first, second

    first, second = asyncio.run(main())
    assert all(isinstance(r, RuntimeError) for r in first) and second == 9


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="max_batch >= 1"):
        MicroBatcher(slow_double, max_batch=0)


def test_the_market_feed_is_a_data_source_that_never_shows_the_future():
    from prometheus_sim.api.service import MarketFeed
    from prometheus_sim.datasource import DataSource, GrowingSource, HistorySource
    from prometheus_sim.market import Market
    from prometheus_sim.scenario import load_scenario
    from tests.conftest import SCENARIOS

    market = Market.simulate(load_scenario(SCENARIOS / "default.yaml").with_horizon(120), n_paths=2)
    feed = MarketFeed(market, path=1, start_day=50, step_seconds=0)
    assert isinstance(feed, DataSource) and not isinstance(feed, GrowingSource)
    assert isinstance(HistorySource.from_market(market, 0, until=10), GrowingSource)
    seen = []
    feed.on_advance(seen.append)
    assert feed.history().close.shape[1] == 51
    assert feed.advance() and seen == [51] and feed.history().close.shape[1] == 52
    assert (feed.history().close[0] == market.close[1, :52]).all()
    feed.day = feed.last_day
    assert not feed.advance()


def test_keys_from_the_environment_are_hashes_and_revocation_sticks(tmp_path):
    from prometheus_sim.api.keys import Forbidden, KeyStore, Unauthorized, digest

    env = {
        "PROMETHEUS_API_KEY_HASHES": f"ops:{digest('psk_ops-secret')}",
        "PROMETHEUS_API_KEYS_FILE": str(tmp_path / "k.json"),
    }
    store = KeyStore(env=env)
    assert store.verify("psk_ops-secret") == "ops"
    key = store.add("analyst")
    assert key.startswith("psk_") and key not in (tmp_path / "k.json").read_text()
    assert KeyStore(env=env).verify(key) == "analyst"  # a second reader (another server) sees the file
    store.revoke("analyst")
    with pytest.raises(Forbidden, match="revoked"):
        KeyStore(env=env).verify(key)
    with pytest.raises(Unauthorized, match="unknown"):
        store.verify("psk_guess")
    with pytest.raises(Unauthorized, match="required"):
        store.verify(None)
    with pytest.raises(ValueError, match="name:sha256hex"):
        KeyStore(env={"PROMETHEUS_API_KEY_HASHES": "bad:123", "PROMETHEUS_API_KEYS_FILE": str(tmp_path / "x.json")})
