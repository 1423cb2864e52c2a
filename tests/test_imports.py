"""The simulator stays light: no torch, web3, gymnasium or mlflow on import or on --help."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT

HEAVY = ("torch", "web3", "gymnasium", "mlflow")

_PROBE = """
import sys
import prometheus_sim, prometheus_sim.scenario, prometheus_sim.market, prometheus_sim.generators, prometheus_sim.cli
from prometheus_sim.cli import main
try:
    main(["--help"])
except SystemExit:
    pass
heavy = [m for m in sys.modules if m.split(".")[0] in {heavy}]
print("HEAVY:" + ",".join(sorted(set(m.split(".")[0] for m in heavy))))
"""


def test_import_and_help_pull_in_no_heavy_libraries():
    out = subprocess.run(
        [sys.executable, "-c", _PROBE.replace("{heavy}", repr(set(HEAVY)))],
        cwd=ROOT, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert "Usage:" in out.stdout
    assert out.stdout.strip().splitlines()[-1] == "HEAVY:"


def test_console_script_help_runs():
    exe = ROOT / ".venv" / "bin" / "prometheus-sim"
    cmd = [str(exe), "--help"] if exe.exists() else [sys.executable, "-m", "prometheus_sim.cli", "--help"]
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=True)
    assert "simulate" in out.stdout and "scenarios" in out.stdout


def test_imports_point_one_way():
    """The core never imports adapters or strategies (the CLI wires them); strategies never import adapters.

    ``prometheus_sim/rl/env.py`` is the other composition root: ``gymnasium.make`` builds the env with
    no caller to hand it a venue, and the env must step the very venue backtests use
    (``adapters.sim.SimAdapter``), so it imports that one adapter, lazily, and nothing else outside the core.
    """
    import ast

    def imported(path):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                yield from (a.name.split(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module:
                yield node.module.split(".")[0]

    roots = {
        ROOT / "prometheus_sim" / "cli.py",
        ROOT / "prometheus_sim" / "rl" / "env.py",
        ROOT / "prometheus_sim" / "api" / "app.py",
    }  # the API wires the served strategies (DESIGN)
    core = [p for p in (ROOT / "prometheus_sim").rglob("*.py") if p not in roots]
    assert len(core) > 20
    for path in core:
        bad = {"adapters", "strategies"} & set(imported(path))
        assert not bad, f"{path.relative_to(ROOT)} imports {bad}"
    assert {"strategies"}.isdisjoint(imported(ROOT / "prometheus_sim" / "rl" / "env.py"))
    for path in (ROOT / "strategies").rglob("*.py"):
        assert "adapters" not in set(imported(path)), f"{path.relative_to(ROOT)} imports adapters"


def test_only_the_chain_package_imports_web3():
    """DESIGN: one place talks to a chain. web3 and eth-account are imported under ``adapters/chain/`` only."""
    import ast

    chain_libs = {"web3", "eth_account", "eth_tester", "eth_abi", "eth_utils"}
    offenders = []
    for root in ("prometheus_sim", "strategies", "adapters", "examples"):  # benchmarks measure web3 itself
        for path in (ROOT / root).rglob("*.py"):
            if (ROOT / "adapters" / "chain") in path.parents:
                continue
            for node in ast.walk(ast.parse(path.read_text())):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                    [node.module] if isinstance(node, ast.ImportFrom) and node.module else [])  # fmt: skip
                if chain_libs & {n.split(".")[0] for n in names}:
                    offenders.append(str(path.relative_to(ROOT)))
    assert not offenders, offenders
    assert (ROOT / "adapters" / "chain" / "node.py").read_text().count("from web3 import") == 1
