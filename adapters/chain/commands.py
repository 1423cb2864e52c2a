"""What ``prometheus-sim devchain ...`` and ``prometheus-sim live ...`` do (the CLI parses, this acts).

``devchain up`` starts Anvil (the pinned npm package's binary, spawned directly so the PID held is
Anvil's) on 127.0.0.1 at a free port, deploys the contracts, feeds the market's first live bar and
seeds five vaults; it writes ``devchain.json`` (addresses, token map, the market it continues, the
Anvil PID; never a key).
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import socket
import subprocess
import time
from pathlib import Path

from web3 import Web3

from adapters.chain.adapter import ChainAdapter, LiveClock
from adapters.chain.config import ChainConfig
from adapters.chain.deploy import feed_prices, seed_vaults
from adapters.chain.journal import Journal
from adapters.chain.node import ROOT, NodeDown, connect, web3_for
from adapters.chain.signer import Sender, load_account
from prometheus_sim.datasource import HistorySource

ANVIL = ROOT / "node_modules" / "@foundry-rs" / "anvil-linux-amd64" / "bin" / "anvil"
N_VAULTS = 5


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_anvil(
    port: int | None = None, block_time: float | None = None, log: Path | None = None, detach: bool = False
):
    """Spawn Anvil on 127.0.0.1; return (process, rpc_url) once it answers RPC.

    ``detach`` (``devchain up``): Anvil outlives this process, so it is started by a shell that exits
    at once and reports Anvil's own PID (the returned value is then that PID, not a ``Popen``).
    """
    if not ANVIL.exists():
        raise FileNotFoundError(f"Anvil not found at {ANVIL}: run `make setup` (it runs npm ci)")
    port = port or free_port()
    cmd = [str(ANVIL), "--host", "127.0.0.1", "--port", str(port), "--accounts", "10"]
    if block_time:
        cmd += ["--block-time", str(block_time)]
    target = str(log) if log else "/dev/null"
    if detach:
        line = " ".join(shlex.quote(c) for c in cmd) + f" > {shlex.quote(target)} 2>&1 < /dev/null & echo $!"
        out = subprocess.run(["sh", "-c", line], capture_output=True, text=True, check=True, start_new_session=True)
        proc, alive = int(out.stdout.strip()), None
    else:
        with open(target, "w") as sink:  # the child keeps its own descriptor
            proc = subprocess.Popen(cmd, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True)
        alive = proc.poll
    url = f"http://127.0.0.1:{port}"
    w3 = web3_for(url, timeout_s=2)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if alive is not None and alive() is not None:
            raise RuntimeError(f"Anvil exited with code {proc.returncode} before answering on {url}")
        try:
            if w3.eth.chain_id:
                return proc, url
        except Exception:
            time.sleep(0.05)
    stop_pid(proc if detach else proc.pid)
    raise RuntimeError(f"Anvil did not answer on {url} within 15 s")


def stop_pid(pid: int, timeout_s: float = 10.0) -> bool:
    """SIGTERM ``pid`` and wait for it to go; True when it was running."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        try:  # reap it when it is our child
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)
    return True


def setup_devchain(w3: Web3, market, start: int, history: str, rpc_url: str, *, fees_bps: float = 10.0,
                   cooldown_seconds: int = 0, row: int = 0) -> dict:  # fmt: skip
    """Deploy, feed bar ``start`` of ``market``'s path ``row`` as round 1, seed the vaults; return the config dict."""
    from adapters.chain.deploy import deploy
    from prometheus_sim.portfolio import CostModel

    if not 1 <= start < market.n_steps:
        raise ValueError(f"start: must be a step in 1..{market.n_steps - 1} (bars before it warm-start the history)")
    fields = deploy(w3, list(market.assets), list(market.asset_kinds), costs=CostModel(fees_bps=fees_bps,
                    slippage_bps=0.0, impact=0.0), cooldown_seconds=cooldown_seconds)  # fmt: skip
    feed_prices(
        w3, fields["price_oracle"], fields["tokens"], dict(zip(market.assets, market.close[row, start], strict=True))
    )
    cash = market.assets[list(market.asset_kinds).index("stable")]
    users = seed_vaults(w3, fields["vault_manager"], fields["tokens"], cash, w3.eth.accounts[2 : 2 + N_VAULTS])
    return {
        "rpc_url": rpc_url,
        **{k: v for k, v in fields.items() if k != "deployer"},
        "users": users,
        "history": history,
        "history_row": row,
        "history_until": start - 1,
        "oracle_account": w3.eth.accounts[1],
        "steps_per_day": int(market.steps_per_day),
    }  # fmt: skip (the history's spacing: the adapter checks it)


def devchain_up(config_path: Path, market_dir: str | None, start: int, block_time: float | None,
                fees_bps: float, cooldown_seconds: int) -> dict:  # fmt: skip
    from prometheus_sim.market import Market
    from prometheus_sim.scenario import load_scenario

    if config_path.exists():
        old = json.loads(config_path.read_text())
        if old.get("anvil_pid") and is_devchain_anvil(int(old["anvil_pid"]), old.get("rpc_url", "")):
            raise ValueError(f"{config_path}: a dev chain is already up (Anvil PID {old['anvil_pid']}); "
                             "run `prometheus-sim devchain down` first")  # fmt: skip
    if market_dir is None:
        # beside the config, as every other output: it went into the checkout, shared by dev chains started from
        # different folders (review of 2026-12-05)
        market_dir = str(config_path.parent / "runs" / "devchain" / "market")
        Market.simulate(load_scenario(ROOT / "scenarios" / "default.yaml"), seeds=[0]).save(market_dir)
    market = Market.load(market_dir)
    log = config_path.parent / "anvil.log"
    pid, url = start_anvil(block_time=block_time, log=log, detach=True)
    try:
        cfg = setup_devchain(web3_for(url), market, start, str(Path(market_dir).resolve()), url, fees_bps=fees_bps,
                             cooldown_seconds=cooldown_seconds)  # fmt: skip
    except Exception:
        stop_pid(pid)
        raise
    cfg["anvil_pid"] = pid
    config_path.write_text(json.dumps(cfg, indent=2) + "\n")
    return cfg


def devchain_feed(config_path: Path, steps: int, interval_s: float, market_dir: str | None = None) -> tuple[int, int]:
    """Push the next ``steps`` bars of the config's market (or ``market_dir``'s) into the oracle; return
    (first, last) bar fed. Bar k of the market is the oracle's round k - history_until."""
    from adapters.chain.deploy import feed_prices as feed
    from prometheus_sim.market import Market

    cfg = ChainConfig.load(config_path)
    if (market_dir is None and cfg.history is None) or cfg.history_until is None:
        raise ValueError(f"{config_path}: no market to feed from (give --market, and history_until must be set)")
    chain = connect(cfg)
    market = Market.load(market_dir or cfg.history)
    rid = chain.call(chain.oracle.functions.latestRoundData(chain.token_of[cfg.assets[0]]).call)[0]
    first = cfg.history_until + rid + 1
    last = min(first + steps - 1, market.n_steps - 1)
    if first > last:
        raise ValueError(f"the market in {market_dir or cfg.history} has no bar after {first - 1}")
    deployer = chain.w3.eth.accounts[0]
    for t in range(first, last + 1):
        feed(chain.w3, chain.oracle.address, chain.token_of,
             dict(zip(market.assets, market.close[cfg.history_row, t], strict=True)), deployer)  # fmt: skip
        if interval_s > 0 and t < last:
            time.sleep(interval_s)
    return first, last


def is_devchain_anvil(pid: int, rpc_url: str) -> bool:
    """Whether ``pid`` is the Anvil a ``devchain up`` started for ``rpc_url``: by its command line (``/proc``), the
    binary and the port. A PID recorded before a reboot or a crash may now be any other process: ``devchain down``
    killed whatever had it, and ``devchain up`` refused to start (review of live mode, session 25)."""
    from urllib.parse import urlsplit

    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:  # no such process (or no /proc: nothing to check it by, so nothing is stopped)
        return False
    port = urlsplit(rpc_url).port
    args = [a.decode(errors="replace") for a in argv if a]
    return (bool(args) and Path(args[0]).name == "anvil" and port is not None
            and any(a == "--port" and b == str(port) for a, b in zip(args, args[1:], strict=False)))  # fmt: skip


def devchain_down(config_path: Path) -> bool:
    cfg = json.loads(Path(config_path).read_text())
    pid = cfg.get("anvil_pid")
    stopped = bool(pid) and is_devchain_anvil(int(pid), cfg.get("rpc_url", "")) and stop_pid(int(pid))
    cfg["anvil_pid"] = None
    Path(config_path).write_text(json.dumps(cfg, indent=2) + "\n")
    return stopped


def history_source(cfg: ChainConfig) -> HistorySource:
    if cfg.history is None:
        raise ValueError("history: the config names no run directory or file to warm-start the market history from")
    path = Path(cfg.history)
    if path.is_dir():
        return HistorySource.from_run_dir(path, cfg.history_row, cfg.history_until)
    if cfg.history_row != 0:  # a file holds one path: history_row was ignored (review of 2026-12-05)
        raise ValueError(f"history_row: {cfg.history_row}, but the history {path} is a file, which holds one path "
                         "(history_row picks a path of a run directory)")  # fmt: skip
    return HistorySource.from_file(path, cfg.asset_kinds, cfg.history_until)


def live_run(config_path: Path, strategy, steps: int, execute: bool, journal_path: str | None,
             wait_timeout_s: float, env: dict | None = None, spec: dict | None = None):  # fmt: skip
    """Run ``strategy`` live through ``backtest.run`` with a ChainAdapter; return (result, adapter, journal path)."""
    from prometheus_sim.backtest import run

    cfg = ChainConfig.load(config_path)
    source = history_source(cfg)
    check_market = getattr(strategy, "check_market", None)  # a policy refuses assets it was not trained on,
    if check_market is not None:  # before anything is read from the chain or journalled
        check_market(source.book())
    if execute and not cfg.users:
        # without a list every vault on the VaultManager was traded, a stranger's opened after the config was written
        # included (review of 2026-12-05): sending needs the users named
        raise ValueError(
            "users: --execute trades only the vaults the config names, and it names none; list them "
            "(a dry run without users describes every vault on the VaultManager)"
        )
    chain = connect(cfg)
    if execute:
        account = load_account(env)
        sender = Sender(chain, account.address, account, cfg.guard_rails.max_gas_price_gwei)
    else:
        sender = (
            Sender(chain, cfg.oracle_account, None, cfg.guard_rails.max_gas_price_gwei) if cfg.oracle_account else None
        )
    journal = Path(journal_path or cfg.journal)
    spec = spec or {"name": getattr(strategy, "name", type(strategy).__name__), "params": {}}
    adapter = ChainAdapter(chain, source, execute=execute, sender=sender, journal=Journal(journal), strategy=spec)
    every = strategy.decision_every_days
    clock = LiveClock(adapter, every=1 if every is None else every * cfg.steps_per_day, n_decisions=steps,
                      timeout_s=wait_timeout_s)  # fmt: skip
    try:
        result = run(strategy, adapter, clock)
    except NodeDown:
        adapter.close()
        raise
    return result, adapter, journal


__all__ = [
    "ANVIL",
    "devchain_down",
    "devchain_feed",
    "devchain_up",
    "free_port",
    "history_source",
    "live_run",
    "setup_devchain",
    "start_anvil",
    "stop_pid",
]
