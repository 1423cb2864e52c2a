"""Live mode against Anvil (the npm package's binary, on 127.0.0.1 at a free port, stopped by its PID):
ten live steps of a strategy through ``backtest.run``, events read back, auto-rebalance on its
conditions, the key nowhere in logs, journal or process list, and a node killed mid-run. Writes the
``live_integration`` evidence for the guide's three integration criteria."""

from __future__ import annotations

import logging
import re
import subprocess
import threading
import time

import numpy as np
import pytest
import requests
import yaml
from web3.logs import DISCARD

from adapters.chain.commands import ANVIL, live_run, setup_devchain, start_anvil, stop_pid
from adapters.chain.config import ChainConfig
from adapters.chain.deploy import UNIT, feed_prices
from adapters.chain.journal import Journal, read_journal
from adapters.chain.node import NodeDown, connect, web3_for
from adapters.chain.signer import Sender, load_account
from prometheus_sim.evidence import read_evidence, write_evidence
from prometheus_sim.market import Market
from prometheus_sim.scenario import load_scenario
from strategies.registry import create
from tests.conftest import ROOT, SCENARIOS

pytestmark = pytest.mark.skipif(not ANVIL.exists(), reason="Anvil is installed by `make setup` (npm ci)")
START = 60
EVIDENCE = ROOT / "runs" / "evidence" / "live_integration.json"

# Anvil's tenth default dev account (its public test mnemonic): funded, and no oracle of any engine deployed here
UNAUTHORISED_KEY = "0x2a871d0798f97d79848a013d4936a73bf4cc922c825d33c1cf7073dff6d409c6"


@pytest.fixture(scope="module")
def market_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("live") / "market"
    Market.simulate(load_scenario(SCENARIOS / "default.yaml").with_horizon(150), n_paths=1).save(path)
    return path


def up(tmp_path, market_dir, cooldown_seconds=0):
    """Anvil + contracts + vaults; returns (process, config path, the AI oracle's dev key)."""
    import json

    proc, url = start_anvil(log=tmp_path / "anvil.log")
    raw = setup_devchain(web3_for(url), Market.load(market_dir), START, str(market_dir), url,
                         cooldown_seconds=cooldown_seconds)  # fmt: skip
    config = tmp_path / "devchain.json"
    config.write_text(json.dumps({**raw, "journal": str(tmp_path / "journal.jsonl")}))
    keys = re.findall(r"^\((\d)\) (0x[0-9a-f]{64})$", (tmp_path / "anvil.log").read_text(), re.MULTILINE)
    return proc, config, dict(keys)["1"]


def stop(proc) -> None:
    stop_pid(proc.pid)
    proc.wait(timeout=10)


def feed_bars(config, market_dir, first, last, interval_s=0.0):
    """Feed bars first..last into the oracle (every interval_s, as `devchain feed --interval` does)."""
    cfg = ChainConfig.load(config)
    chain = connect(cfg)
    market = Market.load(market_dir)
    for t in range(first, last + 1):
        time.sleep(interval_s)
        feed_prices(
            chain.w3, cfg.price_oracle, chain.token_of, dict(zip(market.assets, market.close[0, t], strict=True))
        )
    return chain


def feeding(config, market_dir, first, last, interval_s=0.15, node_may_go=False, after=None) -> threading.Thread:
    """Feed bars on a thread; with ``node_may_go`` the feeder stops quietly once the node is gone
    (a test that kills the node mid-run tests the live runner, not this helper); with ``after`` (a journal), only
    once the run has journalled its first snapshot."""

    def feed():
        deadline = time.monotonic() + 60
        while after is not None and time.monotonic() < deadline:
            if after.exists() and '"kind": "snapshot"' in after.read_text():
                break
            time.sleep(0.02)
        try:
            feed_bars(config, market_dir, first, last, interval_s)
        except (NodeDown, requests.exceptions.ConnectionError):
            if not node_may_go:
                raise

    thread = threading.Thread(target=feed)
    thread.start()
    return thread


def test_ten_live_steps_on_anvil(tmp_path, market_dir, caplog, capfd):
    # a failing run leaves no evidence: a last passing run's file stayed and acceptance counted it (review, session 19)
    EVIDENCE.unlink(missing_ok=True)
    proc, config, key = up(tmp_path, market_dir, cooldown_seconds=3600)
    try:
        chain = connect(ChainConfig.load(config))
        cfg = chain.config
        # 1. reads: getUserPortfolio agrees with the exact balances at the oracle's prices
        reads = []
        for user in cfg.users:
            total, assets, allocations = chain.vault.functions.getUserPortfolio(user).call()
            _, units, _ = chain.vault.functions.getBalances(user).call()
            prices = [chain.oracle.functions.priceOf(a).call() for a in assets]
            reads.append(total == sum(u * p // 10**8 for u, p in zip(units, prices, strict=True)) and total > 0)
        # 2. ten decisions of a strategy, live, through backtest.run, executed
        # the bars arrive while the run waits for them, from its first snapshot on: fed from the test's start, a run
        # slower to start than one bar's interval (the VM's slow phase, 2026-12-05) began at bar 61 and waited for 70
        feeder = feeding(config, market_dir, START + 1, START + 9, after=tmp_path / "journal.jsonl")
        with caplog.at_level(logging.DEBUG):
            result, adapter, journal = live_run(config, create("equal_weight", period_days=1), 10, True, None, 10.0,
                                                env={"PROMETHEUS_PRIVATE_KEY": key})  # fmt: skip
        feeder.join()
        assert result.decision_steps.tolist() == list(range(START, START + 10))
        logs = chain.engine.events.AIRecommendationExecuted().get_logs(from_block=0)
        assert len(logs) == 10 * len(cfg.users)
        sent = [x for x in read_journal(journal) if x["kind"] == "transaction"]
        assert {"0x" + bytes(e.args.idempotencyKey).hex() for e in logs} == {x["idempotency_key"] for x in sent}
        assert all(e.args.confidenceBps == 10_000 and e.args.valueAfter > 0 for e in logs)
        holdings = np.array([chain.vault.functions.getBalances(u).call()[1] for u in cfg.users], dtype=float) / UNIT
        assert (holdings > 0).all()  # equal weight: every asset bought
        from adapters.chain.replay import score_journal

        score, what = score_journal(journal)  # the run scored from its journal alone: live equity moved
        assert what.startswith("run 1 of 1 (executed, started at ")
        assert (score["snapshots"] == 10).all() and (score["fees"] > 0).all() and score["twr"].abs().gt(0).all()
        assert np.isfinite(score["max_drawdown"]).all()
        # 3. auto-rebalance through the tool itself (adapters.chain.auto): only when canRebalance says so. Inside the
        #    cool-down after the trades every user is skipped and nothing is sent; after it each is called with the
        #    inflation x 100 under the guide's 1,000,000 gas (until 2026-12-05 this test called the contract itself)
        from adapters.chain.auto import auto_rebalance

        w3, user = chain.w3, cfg.users[0]
        account = load_account({"PROMETHEUS_PRIVATE_KEY": key})
        block = w3.eth.block_number
        outcomes = auto_rebalance(chain, list(cfg.users), 4.5, execute=True, sender=Sender(chain, account.address, account),
                                  journal=Journal(tmp_path / "auto.jsonl"), timeout_s=10)  # fmt: skip
        inside = all(o.status == "skipped" for o in outcomes) and w3.eth.block_number == block
        w3.provider.make_request("evm_increaseTime", [3601])
        w3.provider.make_request("evm_mine", [])
        after_cooldown = chain.engine.functions.canRebalance(user).call()
        outcomes = auto_rebalance(chain, list(cfg.users), 4.5, execute=True, sender=Sender(chain, account.address, account),
                                  journal=Journal(tmp_path / "auto.jsonl"), timeout_s=10)  # fmt: skip
        tx_hash = outcomes[0].detail.split()[0]
        receipt, tx = w3.eth.get_transaction_receipt(tx_hash), w3.eth.get_transaction(tx_hash)
        events = chain.engine.events.AutoRebalanced().process_receipt(receipt, errors=DISCARD)
        triggered = (
            all(o.status == "sent" for o in outcomes)
            and receipt.status == 1
            and tx["gas"] <= 1_000_000
            and events[0].args.inflationBps == 450
            and events[0].args.riskyWeightBps == 3450
        )  # 20 % + 60 % x 0.2 + (4.5 - 2) %
        journal_text = journal.read_text() + (tmp_path / "auto.jsonl").read_text()
        # the key is nowhere: logs, output, journal, the process list
        out, err = capfd.readouterr()
        ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
        for text in (caplog.text, out, err, journal_text, ps):
            assert key[2:] not in text and key not in text
        flags = {"reads_vault_manager": all(reads), "submits_to_policy_engine": len(logs) == 50,
                 "auto_rebalance_triggers": inside and after_cooldown and triggered}  # fmt: skip
        write_evidence(
            EVIDENCE,
            "live_integration",
            {**flags, "chain_id": cfg.chain_id, "tests": ["tests/test_chain_anvil.py::test_ten_live_steps_on_anvil"]},
            "pytest tests/test_chain_anvil.py",
        )  # fmt: skip (written as found, a failed flag as False)
        assert read_evidence(EVIDENCE).problem is None
        assert all(flags.values()), flags
    finally:
        stop(proc)


def test_a_node_that_goes_away_mid_run_is_a_clear_error(tmp_path, market_dir):
    proc, config, key = up(tmp_path, market_dir)
    url = ChainConfig.load(config).rpc_url
    journal = tmp_path / "journal.jsonl"
    feeder = feeding(config, market_dir, START + 1, START + 2, node_may_go=True)

    def kill_after_first_decision():
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if journal.exists() and '"kind": "orders"' in journal.read_text():
                stop_pid(proc.pid)
                return
            time.sleep(0.05)

    killer = threading.Thread(target=kill_after_first_decision)
    killer.start()
    try:
        with pytest.raises(NodeDown, match=f"the node at {re.escape(url)} does not answer"):
            live_run(config, create("equal_weight", period_days=1), 10, True, None, 10.0,
                     env={"PROMETHEUS_PRIVATE_KEY": key})  # fmt: skip
    finally:
        killer.join()
        feeder.join()
        stop(proc)
    lines = read_journal(journal)  # every line written before the failure is whole
    assert [x["kind"] for x in lines].count("orders") >= 1
    with pytest.raises(NodeDown, match=re.escape(url)):
        connect(ChainConfig.load(config))


def test_a_policy_refuses_a_chain_whose_assets_it_was_not_trained_on(tmp_path, tiny_dqn):
    """The vaults hold AVAX where the policy learned SOL: refused, naming both, before anything is journalled."""
    from prometheus_sim.scenario import ScenarioSpec
    from strategies.dqn import DQNStrategy

    raw = yaml.safe_load((SCENARIOS / "default.yaml").read_text().replace("SOL", "AVAX"))
    avax = tmp_path / "avax_market"
    Market.simulate(ScenarioSpec.from_dict(raw).with_horizon(150), n_paths=1).save(avax)
    proc, config, key = up(tmp_path, avax)
    try:
        with pytest.raises(ValueError, match="this market's are BTC, ETH, AVAX"):
            live_run(config, DQNStrategy(), 2, True, None, 10.0, env={"PROMETHEUS_PRIVATE_KEY": key})
        assert not (tmp_path / "journal.jsonl").exists()
        result, _, _ = live_run(config, DQNStrategy(allow_other_assets=True), 1, False, None, 10.0)
        assert result.decision_steps.tolist() == [START]  # told to transfer, it decides (a dry run)
    finally:
        stop(proc)


def test_the_cli_brings_a_dev_chain_up_runs_a_dry_run_and_takes_it_down(tmp_path, market_dir):
    import json

    from click.testing import CliRunner

    from prometheus_sim.cli import main

    runner = CliRunner()
    config = tmp_path / "devchain.json"
    res = runner.invoke(main, ["devchain", "up", "--config", str(config), "--market", str(market_dir), "--start", "60"])
    assert res.exit_code == 0, res.output
    pid = json.loads(config.read_text())["anvil_pid"]
    try:
        assert "5 vaults" in res.output and "private" not in config.read_text().lower()
        again = runner.invoke(main, ["devchain", "up", "--config", str(config), "--market", str(market_dir)])
        assert again.exit_code == 2 and "already up" in again.output
        res = runner.invoke(
            main, ["devchain", "feed", "--config", str(config), "--steps", "3", "--market", str(market_dir)]
        )
        assert res.exit_code == 0 and "fed bars 61..63" in res.output, res.output
        res = runner.invoke(main, ["live", "--config", str(config), "--strategy", "equal_weight", "--strategy-param",
                                   "period_days=1", "--steps", "1", "--journal", str(tmp_path / "j.jsonl")])  # fmt: skip
        assert res.exit_code == 0, res.output
        assert (
            res.output.count("DRY_RUN: PolicyEngine.submitAIRecommendation(") == 5 and "nothing was sent" in res.output
        )
        res = runner.invoke(main, ["live", "--config", str(config), "--strategy", "equal_weight", "--execute"],
                            env={"PROMETHEUS_PRIVATE_KEY": ""})  # fmt: skip
        assert res.exit_code == 2 and "needs a signing key" in res.output
        # a key the engine does not authorise (Anvil's tenth dev account): the chain's simulation refuses every call,
        # nothing is sent, and the run says so and exits 1 (it said "executed" and exited 0; review, session 23)
        res = runner.invoke(main, ["live", "--config", str(config), "--strategy", "equal_weight", "--strategy-param",
                                   "period_days=1", "--steps", "1", "--execute", "--journal", str(tmp_path / "x.jsonl")],
                            env={"PROMETHEUS_PRIVATE_KEY": UNAUTHORISED_KEY})  # fmt: skip
        assert res.exit_code == 1, res.output
        assert res.output.count("REVERTED: PolicyEngine.submitAIRecommendation(") == 5, res.output
        assert "0 sent, 0 refused by the guard rails, 5 refused by the chain's simulation" in res.output
        assert "the chain's simulation refused 5 transaction(s), which were not sent" in res.output
        res = runner.invoke(main, ["live", "replay", str(tmp_path / "j.jsonl")])  # the strategy the journal recorded
        assert res.exit_code == 0 and "1 decisions replayed over 1 run(s): same recommendations" in res.output, (
            res.output
        )
        res = runner.invoke(main, ["live", "score", str(tmp_path / "j.jsonl")])
        assert res.exit_code == 2 and "scoring needs two or more" in res.output
        # the guide's autoRebalance from the command line: a dry run simulates each user's call (opted in, no
        # cool-down yet: nothing has traded), inflation 3.25 % sent as 325 basis points; a bad inflation is refused
        res = runner.invoke(main, ["live", "auto-rebalance", "--config", str(config), "--inflation", "3.25",
                                   "--journal", str(tmp_path / "auto.jsonl")])  # fmt: skip
        assert res.exit_code == 0 and res.output.count("DRY RUN (not sent): PolicyEngine.autoRebalance(") == 5, (
            res.output
        )
        assert "inflationBps=325)" in res.output
        res = runner.invoke(main, ["live", "auto-rebalance", "--config", str(config), "--inflation", "nan"])
        assert res.exit_code == 2 and "inflation: a finite number of percent a year" in res.output, res.output
    finally:
        res = runner.invoke(main, ["devchain", "down", "--config", str(config)])
        assert "Anvil stopped" in res.output
    with pytest.raises(ProcessLookupError):
        import os

        os.kill(pid, 0)


def test_the_api_serves_the_chains_oracle_as_its_market(tmp_path, market_dir, mlflow_store):
    """``serve --market devchain.json``: the chain feed behind the same DataSource; a price-only forecaster."""
    import json

    import httpx

    from prometheus_sim.api.keys import KeyStore
    from prometheus_sim.features import FeatureConfig
    from prometheus_sim.forecast.train import TrainArgs, train
    from tests.test_api import Server

    train(TrainArgs(scenarios=(str(SCENARIOS / "default.yaml"),), seeds=tuple(range(4)), epochs=1, horizon_days=300,
                    hidden_dim=16, lstm_layers=1, transformer_layers=1, nhead=4, batch_size=128,
                    max_windows_per_epoch=500, tracking_uri=mlflow_store, register_as="price-only-forecaster",
                    features=FeatureConfig(volume=False, onchain=False, macro=False)))  # fmt: skip
    proc, url = start_anvil(log=tmp_path / "anvil.log")
    try:
        raw = setup_devchain(web3_for(url), Market.load(market_dir), 100, str(market_dir), url)
        config = tmp_path / "devchain.json"
        config.write_text(json.dumps(raw))
        key = KeyStore(tmp_path / "keys.json").add("chain")
        srv = Server(tmp_path, "--forecaster", "price-only-forecaster@latest", "--policy", "", "--optimize-default",
                     "forecast", "--step-seconds", "0.2", market=str(config))  # fmt: skip
        try:
            health = httpx.get(srv.url + "/health").json()
            assert health["day"] == 100 and health["market"].startswith("chain 31337")
            first = httpx.post(srv.url + "/v1/predict/price", json={"asset": "BTC", "horizon": 3},
                               headers={"X-API-Key": key}).json()  # fmt: skip
            assert len(first["predictions"]) == 3
            feed_bars(config, market_dir, 101, 101)
            deadline = time.monotonic() + 10
            while httpx.get(srv.url + "/health").json()["day"] < 101 and time.monotonic() < deadline:
                time.sleep(0.1)
            second = httpx.post(srv.url + "/v1/predict/price", json={"asset": "BTC", "horizon": 3},
                                headers={"X-API-Key": key}).json()  # fmt: skip
            assert second["timestamp"] == first["timestamp"] + 86_400  # the oracle's new round is the new day
            assert second["last_close"] == pytest.approx(Market.load(market_dir).close[0, 101, 0], rel=1e-8)
            opt = httpx.post(srv.url + "/v1/optimize/portfolio", headers={"X-API-Key": key},
                             json={"user_id": "u", "portfolio": {"BTC": 1000, "USDC": 1000}, "risk_tolerance": 0.5,
                                   "time_to_goal": 24})  # fmt: skip
            assert opt.status_code == 200 and opt.json()["strategy"] == "forecast"
        finally:
            srv.stop()
    finally:
        stop(proc)


def test_a_run_resumes_after_the_node_stops_answering_and_never_sends_twice(tmp_path, market_dir):
    """The node freezes mid-run (SIGSTOP): a clear error naming it, the journal whole. It comes back
    (SIGCONT): the same live command resumes from the chain's state (the vaults as the first run left
    them), and no idempotency key is executed twice (a retry of one decision is refused on chain:
    tests/test_chain.py::test_a_used_key_and_an_unauthorised_sender_are_refused)."""
    import json
    import signal

    proc, config, key = up(tmp_path, market_dir)
    raw = json.loads(config.read_text())
    config.write_text(json.dumps({**raw, "rpc_timeout_s": 1.0}))
    url = raw["rpc_url"]
    journal = tmp_path / "journal.jsonl"

    def freeze_after_first_decision():
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if journal.exists() and '"kind": "orders"' in journal.read_text():
                os.kill(proc.pid, signal.SIGSTOP)
                return
            time.sleep(0.02)

    import os

    freezer = threading.Thread(target=freeze_after_first_decision)
    feeder = feeding(config, market_dir, START + 1, START + 1, interval_s=0.0)
    feeder.join()
    freezer.start()
    try:
        with pytest.raises(NodeDown, match=re.escape(url)):
            live_run(config, create("equal_weight", period_days=1), 2, True, None, 10.0,
                     env={"PROMETHEUS_PRIVATE_KEY": key})  # fmt: skip
        freezer.join()
        os.kill(proc.pid, signal.SIGCONT)
        chain = connect(ChainConfig.load(config))
        before = len(chain.engine.events.AIRecommendationExecuted().get_logs(from_block=0))
        # resume: the same command, from the chain's state (the latest bar is the first decision again)
        result, _, _ = live_run(config, create("equal_weight", period_days=1), 1, True, None, 10.0,
                                env={"PROMETHEUS_PRIVATE_KEY": key})  # fmt: skip
        after = chain.engine.events.AIRecommendationExecuted().get_logs(from_block=0)
        keys = [bytes(e.args.idempotencyKey) for e in after]
        assert len(keys) == len(set(keys))  # no decision was executed twice
        assert len(after) >= before and result.decision_steps.tolist() == [START + 1]
        lines = [x["kind"] for x in read_journal(journal)]
        assert lines.count("start") == 2 and lines[-1] == "end"
    finally:
        try:
            os.kill(proc.pid, signal.SIGCONT)
        except ProcessLookupError:
            pass
        stop(proc)


def test_a_rerun_while_the_first_runs_transactions_are_pending_sends_nothing_again(tmp_path, market_dir):
    """Killed (here: timed out) while its transactions were pending, then rerun: the rerun signed every one again,
    as the key was unused at the latest block, and reported the first run's trades as reverted (review of
    2026-12-05). Now it finds them by the journal's 'sending' lines and the pending block: one execution each."""
    import json

    proc, config, key = up(tmp_path, market_dir)
    raw = json.loads(config.read_text())
    config.write_text(json.dumps({**raw, "receipt_timeout_s": 1.0}))
    try:
        feeding(config, market_dir, START + 1, START + 1, interval_s=0.0).join()
        chain = connect(ChainConfig.load(config))
        chain.w3.provider.make_request("evm_setAutomine", [False])
        env = {"PROMETHEUS_PRIVATE_KEY": key}
        with pytest.raises(TimeoutError, match="no receipt"):
            live_run(config, create("equal_weight", period_days=1), 1, True, None, 10.0, env=env)
        sent = [x for x in read_journal(tmp_path / "journal.jsonl") if x["kind"] == "sending"]
        assert sent  # the first run's transactions are in the node's pool, not mined
        live_run(config, create("equal_weight", period_days=1), 1, True, None, 10.0, env=env)
        lines = read_journal(tmp_path / "journal.jsonl")
        second = lines[max(i for i, x in enumerate(lines) if x["kind"] == "start") :]
        assert not [x for x in second if x["kind"] in ("sending", "transaction")]
        refused = [x for x in second if x["kind"] == "refused"]
        assert len(refused) == len(sent) and all("already" in x["reason"] for x in refused), refused
        chain.w3.provider.make_request("evm_mine", [])
        executed = chain.engine.events.AIRecommendationExecuted().get_logs(from_block=0)
        assert len(executed) == len(sent) == len({bytes(e.args.idempotencyKey) for e in executed})
    finally:
        stop(proc)


def test_execute_needs_the_users_named_and_a_file_history_takes_history_until(tmp_path, market_dir):
    """Without `users` every vault on the VaultManager was traded, a stranger's too; a CSV history ignored
    history_until and history_row (review of 2026-12-05)."""
    import json

    import pandas as pd

    from adapters.chain.commands import history_source

    proc, config, key = up(tmp_path, market_dir)
    try:
        raw = json.loads(config.read_text())
        config.write_text(json.dumps({k: v for k, v in raw.items() if k != "users"}))
        with pytest.raises(ValueError, match="users: --execute trades only the vaults the config names"):
            live_run(config, create("equal_weight", period_days=1), 1, True, None, 1.0,
                     env={"PROMETHEUS_PRIVATE_KEY": key})  # fmt: skip
        market = Market.load(market_dir)
        frame = pd.DataFrame(np.asarray(market.close[0]), columns=market.assets,
                             index=pd.Index(market.calendar.normalize(), name="date"))  # fmt: skip
        frame.to_csv(tmp_path / "history.csv")
        cfg = ChainConfig.load(config)
        import dataclasses

        cut = history_source(dataclasses.replace(cfg, history=str(tmp_path / "history.csv"), history_until=59))
        assert cut.n_steps == 60
        with pytest.raises(ValueError, match="history_row: 3, but the history .* is a file"):
            history_source(dataclasses.replace(cfg, history=str(tmp_path / "history.csv"), history_row=3))
    finally:
        stop(proc)


def test_an_auto_rebalance_rerun_while_the_first_call_is_pending_sends_nothing(tmp_path, market_dir):
    """A call not yet mined left canRebalance true at the latest block: a rerun (after a kill or a receipt timeout)
    sent a second autoRebalance, which the cool-down reverted at the sender's cost. Now it is read at the pending
    block too, and the user is skipped, naming why; one AutoRebalanced event once mined."""
    from adapters.chain.auto import auto_rebalance

    proc, config, key = up(tmp_path, market_dir, cooldown_seconds=3600)
    try:
        feeding(config, market_dir, START + 1, START + 1, interval_s=0.0).join()
        chain = connect(ChainConfig.load(config))
        account = load_account({"PROMETHEUS_PRIVATE_KEY": key})
        user = [chain.config.users[0]]
        assert chain.engine.functions.canRebalance(user[0]).call()
        chain.w3.provider.make_request("evm_setAutomine", [False])

        def call():
            return auto_rebalance(chain, user, 4.5, execute=True, sender=Sender(chain, account.address, account),
                                  journal=Journal(tmp_path / "auto.jsonl"), timeout_s=1.0)  # fmt: skip

        with pytest.raises(TimeoutError):
            call()
        again = call()
        assert [o.status for o in again] == ["skipped"] and "waiting to be mined" in again[0].detail, again
        chain.w3.provider.make_request("evm_mine", [])
        events = chain.engine.events.AutoRebalanced().get_logs(from_block=0)
        assert len(events) == 1 and events[0].args.inflationBps == 450
    finally:
        stop(proc)


def test_a_transaction_the_node_already_holds_counts_as_sent(tmp_path, market_dir):
    """A node whose pending count lags its pool (a load-balanced RPC) gets the same nonce signed again: the same
    transaction, which Anvil refuses as 'transaction already imported' (geth: 'already known'). That was journalled
    as send_failed and raised, and the run stopped on a call that was then mined. Now it is the send it was."""
    from web3 import HTTPProvider

    class PendingCountLags(HTTPProvider):  # the real node, asked for its mined count where "pending" is asked
        def make_request(self, method, params):
            if method == "eth_getTransactionCount" and list(params)[1] == "pending":
                params = [params[0], "latest"]
            return super().make_request(method, params)

    proc, config, key = up(tmp_path, market_dir)
    try:
        chain = connect(ChainConfig.load(config))
        chain.w3.provider.make_request("evm_setAutomine", [False])
        chain.w3.provider = PendingCountLags(chain.config.rpc_url)
        account = load_account({"PROMETHEUS_PRIVATE_KEY": key})
        prepared = Sender(chain, account.address).prepare(
            chain.engine.functions.canRebalance(chain.config.users[0]), "a read sent as a transaction"
        )
        failures = []
        first = Sender(chain, account.address, account).send(prepared)
        again = Sender(chain, account.address, account).send(prepared, on_failure=lambda h, e: failures.append(e))
        assert again == first and failures == [], failures
        chain.w3.provider.make_request("evm_mine", [])
        assert chain.w3.eth.get_transaction_receipt(first).status == 1
    finally:
        stop(proc)
