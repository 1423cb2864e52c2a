"""`prometheus-sim simulate`: market, manifest, facts and fan charts on disk; clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from prometheus_sim.cli import main
from prometheus_sim.market import Market


def test_simulate_writes_everything_the_issue_lists(tmp_path):
    out = tmp_path / "winter"
    result = CliRunner().invoke(
        main, ["simulate", "default", "--paths", "6", "--seed", "7", "--out", str(out), "--no-progress"]
    )
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    for key in ("scenario_digest", "seed", "package_version", "shapes"):
        assert key in manifest
    assert manifest["seed"] == 7 and manifest["shapes"]["close"][0] == 6
    for block in ("ohlcv", "onchain", "macro", "truth_assets", "truth_paths"):
        assert (out / f"{block}.parquet").exists()
    facts = pd.read_csv(out / "stylised_facts.csv", index_col=[0, 1])
    assert list(facts.columns) == ["median", "p05", "p95"]
    assert {"annual_vol", "excess_kurtosis", "sq_return_acf_lag1", "mean_corr_to_others", "max_drawdown"} <= set(
        facts.index.get_level_values("fact")
    )
    for asset in ("BTC", "ETH", "SOL", "USDC", "BOND"):
        png = out / f"fan_{asset}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    assert str(out) in result.output
    assert Market.load(out).n_paths == 6
    assert "M asset-steps/s; kernels loaded before that in" in result.output or (
        "M asset-steps/s; kernels compiled before that in" in result.output)  # compile timed apart  # fmt: skip


def test_the_package_picks_a_numba_cache_when_none_is_set(tmp_path):
    import os
    import subprocess
    import sys

    from tests.conftest import ROOT

    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    probe = "import prometheus_sim, os, numba; print(os.environ['NUMBA_CACHE_DIR']); print(numba.config.CACHE_DIR)"
    out = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True,
                         check=True).stdout.split()  # fmt: skip
    from prometheus_sim import kernel_sources_digest

    assert out == [str(ROOT / ".cache" / "numba" / kernel_sources_digest())] * 2  # make and plain calls alike
    mine = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, env={**env, "NUMBA_CACHE_DIR": str(tmp_path)},
                          capture_output=True, text=True, check=True).stdout.split()  # fmt: skip
    assert mine == [str(tmp_path)] * 2


def test_the_cache_folder_is_one_that_can_be_written(tmp_path):
    """No writable home (an unset or read-only one): the package still picks a folder of its own, never
    Numba's fallback next to the package files, where the digest would not guard against stale kernels."""
    from prometheus_sim import writable_folder

    blocked = tmp_path / "file"
    blocked.write_text("a file, so no folder can be made under it")
    assert (
        writable_folder([blocked / "numba", Path("/proc/no/such"), tmp_path / "ok" / "numba"])
        == tmp_path / "ok" / "numba"
    )
    assert (tmp_path / "ok" / "numba").is_dir()
    assert writable_folder([blocked / "numba"]) is None


def test_the_cache_folder_is_never_one_someone_else_could_write(tmp_path):
    """Numba unpickles its cache's index files: a folder another user could write (the shared temp
    fallback, whose name anyone can take first) would run their code as this user. Such a folder, or a
    link standing in for one, is skipped; the folders the package makes are private."""
    import os

    from prometheus_sim import writable_folder

    open_to_all = tmp_path / "prometheus-sim-0"
    open_to_all.mkdir()
    os.chmod(open_to_all, 0o777)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    (tmp_path / "link").symlink_to(elsewhere)
    fallback = tmp_path / "mine" / "numba" / "abc"
    assert writable_folder([open_to_all / "abc", tmp_path / "link" / "abc", fallback]) == fallback
    assert [oct(p.stat().st_mode & 0o777) for p in (fallback, fallback.parent)] == ["0o700", "0o700"]
    os.chmod(open_to_all, 0o700)
    assert writable_folder([open_to_all / "abc"]) == open_to_all / "abc"  # private again: taken


def test_the_package_cache_holds_when_numba_was_imported_first(tmp_path):
    """Numba reads NUMBA_CACHE_DIR once, when imported: a script that imports it (or vectorbt) before the
    package must still compile into the package's digest folder, not Numba's stale-prone __pycache__."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    probe = ("import numba; import prometheus_sim; from prometheus_sim import fastexp; fastexp.exp_nb(1.0); "
             "print(prometheus_sim.PACKAGE_KERNEL_CACHE); print(numba.config.CACHE_DIR); "
             "print(fastexp.exp_nb._cache._cache_path)")  # fmt: skip
    chosen, config, used = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, env=env, capture_output=True,
                                          text=True, check=True).stdout.split()  # fmt: skip
    assert config == chosen and used.startswith(chosen + os.sep)


def test_the_cache_folder_follows_every_kernel_source_not_only_the_calling_file(tmp_path):
    """Numba recompiles a function only when its own file changes: an edit to a helper it calls into
    (the kernel's exp) or to a constant it freezes from a module that never mentions Numba (the RL
    env's observation bound) must still lead to a fresh cache folder, or the old machine code runs."""
    import shutil

    from prometheus_sim import kernel_sources_digest
    from tests.conftest import ROOT

    copy = tmp_path / "prometheus_sim"
    shutil.copytree(ROOT / "prometheus_sim", copy, ignore=shutil.ignore_patterns("__pycache__"))
    before = kernel_sources_digest(copy)
    assert before == kernel_sources_digest(ROOT / "prometheus_sim")
    for module, old, new in [("fastexp.py", "_TABLE_BITS = 6", "_TABLE_BITS = 7"),
                             ("rl/env.py", "OBS_BOUND = ", "OBS_BOUND = 2 * ")]:  # fmt: skip
        path = copy / module
        original = path.read_text()
        assert old in original, (module, old)
        path.write_text(original.replace(old, new, 1))
        assert kernel_sources_digest(copy) != before, module
        path.write_text(original)
        assert kernel_sources_digest(copy) == before


def test_a_reused_out_folder_holds_only_the_new_run_and_does_not_hide_a_shipped_name(tmp_path, monkeypatch):
    """``--out default`` then ``simulate default`` again from the same folder: the folder is not the scenario.
    A second market of other assets in the same --out leaves no chart of the first's; a real market saved
    over a simulated one leaves no truth beside it."""
    monkeypatch.chdir(tmp_path)
    first = CliRunner().invoke(main, ["simulate", "default", "--paths", "2", "--out", "default", "--no-progress"])
    assert first.exit_code == 0, first.output
    assert (tmp_path / "default" / "fan_BOND.png").exists()
    again = CliRunner().invoke(main, ["simulate", "default", "--paths", "2", "--out", "default2", "--no-progress"])
    assert again.exit_code == 0, again.output
    other = CliRunner().invoke(main, ["simulate", "fitted_2020_2023", "--paths", "2", "--out", "default",
                                      "--no-progress", "--no-plots"])  # fmt: skip
    assert other.exit_code == 0, other.output
    assert not list((tmp_path / "default").glob("fan_*.png"))
    market = Market.load(tmp_path / "default")
    assert "BOND" not in market.assets
    assert (tmp_path / "default" / "truth_assets.parquet").exists()
    from prometheus_sim.real_market import import_market
    from tests.test_real_market import FILES

    import_market(FILES, start="2023-01-01", end="2023-03-31").save(tmp_path / "default")
    assert not (tmp_path / "default" / "truth_assets.parquet").exists()
    assert not (tmp_path / "default" / "truth_paths.parquet").exists()
    assert Market.load(tmp_path / "default").is_real


def test_validate_says_when_a_garch_assets_vol_is_not_what_it_gets():
    """whale_dump's BTC declares vol 0.55, but its jumps fed through alpha leave omega at its floor: the long-run
    diffusive vol is higher, and validate says by how much; default's assets get what they declare."""
    import math

    from prometheus_sim.generators.params import long_run_diffusive_vols
    from prometheus_sim.scenario import load_scenario
    from tests.conftest import SCENARIOS

    res = CliRunner().invoke(main, ["scenarios", "validate", "whale_dump", "default"])
    assert res.exit_code == 0, res.output
    assert "note: BTC: its jumps feed GARCH more variance than vol 0.55 leaves room for" in res.output
    assert res.output.count("note:") == 2  # BTC and ETH of whale_dump, none of default's
    spec = load_scenario(SCENARIOS / "whale_dump.yaml")
    declared, actual = long_run_diffusive_vols(spec)["BTC"]
    btc = next(a for a in spec.assets if a.name == "BTC")
    g, j = btc.process.garch, btc.process.jumps
    jump_var = j.intensity * (j.mean**2 + j.std**2)  # a year's, as vol^2 is
    assert actual == pytest.approx(math.sqrt((0.05 * declared**2 * (1 - g.alpha - g.beta) + g.alpha * jump_var)
                                             / (1 - g.alpha - g.beta)))  # fmt: skip
    assert long_run_diffusive_vols(load_scenario(SCENARIOS / "default.yaml")) == {}


def test_validate_says_when_a_garch_assets_returns_have_no_fourth_moment(tmp_path):
    """At alpha 0.3, beta 0.69 (3 alpha^2 + 2 alpha beta + beta^2 = 1.16) the variance reaches its mean only through
    rare huge episodes: realised vol fell 18 % short of the declared 0.8 over 50 paths x 4 years, and nothing said so.
    No shipped scenario is there (their largest is 0.98)."""
    import numpy as np

    from prometheus_sim.generators.params import heavy_tailed_garch
    from prometheus_sim.market import Market
    from prometheus_sim.scenario import ScenarioSpec, load_scenario
    from tests.conftest import SCENARIOS

    def spec(alpha, beta):
        return {"name": "g", "seed": 1, "horizon_days": 1460, "assets": [
            {"name": "X", "kind": "crypto", "start_price": 100.0, "drift": 0.0, "vol": 0.8,
             "process": {"type": "garch", "garch": {"alpha": alpha, "beta": beta}}}]}  # fmt: skip

    (tmp_path / "heavy.yaml").write_text(yaml.safe_dump(spec(0.3, 0.69)))
    (tmp_path / "finite.yaml").write_text(yaml.safe_dump(spec(0.1, 0.88)))
    res = CliRunner().invoke(
        main, ["scenarios", "validate", str(tmp_path / "heavy.yaml"), str(tmp_path / "finite.yaml")]
    )
    assert res.exit_code == 0, res.output
    assert (
        res.output.count("note:") == 1 and "note: X: GARCH with 3 alpha^2 + 2 alpha beta + beta^2 = 1.160" in res.output
    )
    for path in sorted(SCENARIOS.glob("*.yaml")):
        assert heavy_tailed_garch(load_scenario(path)) == {}, path.name
    # what the note claims: realised vol short of the declared where the moment is infinite, not where it is finite
    realised = {}
    for alpha, beta in ((0.3, 0.69), (0.1, 0.88)):
        close = Market.simulate(ScenarioSpec.from_dict(spec(alpha, beta)), n_paths=50).close[:, :, 0]
        realised[alpha] = np.diff(np.log(close), axis=1).std() * np.sqrt(365)
    assert realised[0.3] < 0.72 and abs(realised[0.1] - 0.8) < 0.04, realised


def test_simulate_rejects_bad_scenarios_with_exit_2(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nhorizon_days: 10\nassets: []\n")
    result = CliRunner().invoke(main, ["simulate", str(bad), "--out", str(tmp_path / "o"), "--no-progress"])
    assert result.exit_code == 2
    assert "assets: needs at least 1 item(s)" in result.output
    assert not (tmp_path / "o").exists()


def test_every_out_folder_is_checked_before_any_work(tmp_path):
    """A path through a file, a device, an empty name or an over-long one: a clear error naming --out, before
    simulating (each once ended a finished run in a traceback)."""
    afile = tmp_path / "afile"
    afile.write_text("x")
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    cases = {str(afile / "sub"): "which is not a folder", "/dev/null": "exists and is not a folder",
             str(tmp_path / "dangling" / "sub"): "is a symbolic link to nothing",
             "": "is empty: name a folder", str(tmp_path / ("x" * 300)): "File name too long",
             str(tmp_path / "new" / ("y" * 300) / "o"): "is longer than the"}  # fmt: skip
    commands = (["simulate", "default", "--paths", "2", "--no-progress"], ["backtest", "default", "--strategy", "hold"],
                ["facts", "compare", "default", "--paths", "10"])  # fmt: skip
    for out, message in cases.items():
        for command in commands:
            result = CliRunner().invoke(main, [*command, "--out", out])
            assert result.exit_code == 2, (command, out, result.output)
            assert "Invalid value for '--out'" in result.output and message in result.output, (command, result.output)
    assert not (tmp_path / "new").exists()


def test_simulate_rejects_too_many_threads(tmp_path):
    result = CliRunner().invoke(
        main, ["simulate", "default", "--paths", "2", "--threads", "4096", "--out", str(tmp_path / "o")]
    )
    assert result.exit_code == 2
    assert "--threads" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["default", "default"], "is given twice"),
        (["default", "--initial-value", "inf"], "--initial-value: must be a number in (0.0"),
        (["default", "--risk-tolerance", "0.5,1.5"], "--risk-tolerance: must be a number in [0.0, 1.0], got 1.5"),
        (["default", "--strategy-param", "period_days=0"], "period_days: must be an integer >= 1"),
        (
            ["default", "--strategy-param", "period_days=3O"],
            "parameter period_days='3O' is not an integer",
        ),
        (
            ["default", "--strategy-param", "period_days=true"],
            "parameter period_days=True is not an integer",
        ),
    ],
)
def test_backtest_refuses_bad_input_up_front(args, message, tmp_path):
    result = CliRunner().invoke(main, ["backtest", *args, "--strategy", "equal_weight", "--out", str(tmp_path / "o")])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert not (tmp_path / "o").exists()


def test_backtest_refuses_an_out_that_is_a_file_and_a_market_without_cash(tmp_path):
    import yaml

    from tests.conftest import minimal_dict

    afile = tmp_path / "afile"
    afile.write_text("x")
    result = CliRunner().invoke(main, ["backtest", "default", "--strategy", "hold", "--out", str(afile / "sub")])
    assert result.exit_code == 2 and "which is not a folder" in result.output
    data = minimal_dict()
    data["assets"] = data["assets"][:2]
    nocash = tmp_path / "nocash.yaml"
    nocash.write_text(yaml.safe_dump(data))
    result = CliRunner().invoke(main, ["backtest", str(nocash), "--strategy", "hold", "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "needs a stablecoin" in result.output


def test_warmup_compiles_every_group_side_by_side():
    """``make setup``'s last step: both groups run (in two processes) and report their seconds;
    a job count below 1 is refused."""
    import subprocess
    import sys

    from tests.conftest import SCENARIOS

    result = CliRunner().invoke(main, ["warmup", "--jobs", "2"])
    assert result.exit_code == 0, result.output
    assert "simulator and venue" in result.output and "features and rl" in result.output
    assert "rl default layout" in result.output
    assert CliRunner().invoke(main, ["warmup", "--jobs", "0"]).exit_code == 2
    # the batched env's step kernel is compiled per market layout: after a warm-up, default's loads from the cache
    probe = (
        "import numpy as np\n"
        "from prometheus_sim.market import Market\n"
        "from prometheus_sim.rl.vector import PortfolioVectorEnv\n"
        "from prometheus_sim.scenario import load_scenario\n"
        f"m = Market.simulate(load_scenario({str(SCENARIOS / 'default.yaml')!r}).with_horizon(300), n_paths=1)\n"
        "env = PortfolioVectorEnv(4, market=m, episode_days=35)\n"
        "env.reset(seed=1)\n"
        "env.step(np.arange(4))\n"
        "stats = env._step_kernel.stats\n"
        "print('hits', sum(stats.cache_hits.values()), 'misses', sum(stats.cache_misses.values()))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert "hits 1 misses 0" in out, out


def test_warmup_prunes_only_cache_folders_of_other_kernel_sources(tmp_path, monkeypatch):
    """Siblings of the package's own cache folder named like a digest and holding only Numba's files go;
    a digest-named folder with anything else in it, other names, and any folder the user chose stay."""
    import prometheus_sim
    from prometheus_sim.warmup import prune_kernel_caches, stale_kernel_caches

    current, old, older = tmp_path / "0123456789ab", tmp_path / "aaaaaaaaaaaa", tmp_path / "bbbbbbbbbbbb"
    photos = tmp_path / "c0ffee123456"  # named like a digest, but not a Numba cache
    others = [tmp_path / "base_d8b0", tmp_path / "notes.txt", tmp_path / "ABCDEF012345", photos]
    for folder in (current, old, older, others[0], others[2]):
        (folder / "generators_1f2e").mkdir(parents=True)
        (folder / "generators_1f2e" / "engine.run_path_nb-150.py311.nbi").write_bytes(b"x" * 400)
        (folder / "generators_1f2e" / "engine.run_path_nb-150.py311.1.nbc").write_bytes(b"x" * 600)
    others[1].write_text("keep")
    (photos / "2026").mkdir(parents=True)
    (photos / "2026" / "beach.jpg").write_bytes(b"jpeg")
    monkeypatch.setattr(prometheus_sim, "PACKAGE_KERNEL_CACHE", None)  # the user set NUMBA_CACHE_DIR
    assert stale_kernel_caches(current) == []
    monkeypatch.setattr(prometheus_sim, "PACKAGE_KERNEL_CACHE", current)
    assert stale_kernel_caches(current) == [old, older]
    removed, freed = prune_kernel_caches(current)
    assert removed == [old, older] and freed == 2000
    assert current.exists() and all(p.exists() for p in others) and not old.exists() and not older.exists()
    assert stale_kernel_caches(tmp_path / "fedcba987654") == []  # not the folder the package chose


def test_simulate_says_when_it_must_compile_first(tmp_path, monkeypatch):
    """With no compiled simulator in the cache folder the first ``simulate`` says it compiles once (about
    20 s), instead of a silent wait; with one, nothing."""
    import os
    from pathlib import Path

    from prometheus_sim.warmup import kernels_cached

    args = ["simulate", "default", "--paths", "2", "--no-plots", "--out", str(tmp_path / "run")]
    warm = CliRunner().invoke(main, args)
    assert warm.exit_code == 0 and "compiling the simulator's kernels" not in warm.output
    assert kernels_cached(Path(os.environ["NUMBA_CACHE_DIR"]))
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "empty"))  # what the notice checks (Numba's is set)
    cold = CliRunner().invoke(main, args)
    assert cold.exit_code == 0, cold.output
    assert f"compiling the simulator's kernels into {tmp_path / 'empty'}: once" in cold.output
    assert not kernels_cached(tmp_path / "empty")


def test_a_run_that_outgrows_memory_says_so_without_a_traceback(tmp_path):
    """20,000 paths (about 7 GiB of outputs) under a 3 GB address-space limit: a plain message and exit 1 (a sweep
    over 200,000 seeds once ended in a traceback of OSError: [Errno 12]). On a machine with less than 7 GiB
    available the up-front check refuses it instead, with a message that says the same."""
    import resource
    import subprocess
    import sys

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (3 * 2**30, 3 * 2**30))

    out = subprocess.run([sys.executable, "-m", "prometheus_sim.cli", "simulate", "default", "--paths", "20000",
                          "--no-plots", "--no-progress", "--out", str(tmp_path / "o")],
                         capture_output=True, text=True, preexec_fn=limit, timeout=300)  # fmt: skip
    assert out.returncode == 1, out.stderr
    assert "error: prometheus-sim simulate" in out.stderr and "ask for fewer paths, seeds or horizon days" in out.stderr
    assert "Traceback" not in out.stderr


@pytest.mark.parametrize(
    "error",
    [
        OSError(28, "No space left on device", "ohlcv.parquet"),
        OSError("Error writing bytes to file. Detail: [errno 28] No space left on device"),  # pyarrow's: no errno
    ],
)
def test_a_full_disk_says_so_without_a_traceback(tmp_path, monkeypatch, error):
    """A full disk was pyarrow's traceback from simulate and backtest (review of 2026-12-05)."""

    def full(self, directory):
        raise error

    monkeypatch.setattr(Market, "save", full)
    res = CliRunner().invoke(main, ["simulate", "default", "--paths", "2", "--no-plots",
                                    "--no-progress", "--out", str(tmp_path / "o")])  # fmt: skip
    assert res.exit_code == 1 and not isinstance(res.exception, OSError), res.output
    assert "error: prometheus-sim simulate: no space left on the disk" in res.output
    assert ("writing ohlcv.parquet" in res.output) == (error.filename is not None)


def test_a_simulation_larger_than_the_memory_available_is_refused_before_any_work(tmp_path):
    """2,000,000 paths of default (about 700 GiB of outputs): refused up front with the sizes, before any work
    (filling memory part-way could end in the kernel's out-of-memory killer, with no message)."""
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "prometheus_sim.cli", "simulate", "default", "--paths", "2000000",
                          "--no-plots", "--no-progress", "--out", str(tmp_path / "o")],
                         capture_output=True, text=True, timeout=300)  # fmt: skip
    assert out.returncode == 1, out.stderr
    assert "error: prometheus-sim simulate: 2,000,000 paths x 1,095 steps of 'default' needs" in out.stderr, out.stderr
    assert "GiB for its outputs," in out.stderr and "GiB available to this process" in out.stderr
    assert "Traceback" not in out.stderr
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir()), "nothing written"


def test_available_memory_counts_a_containers_cgroup_limit(tmp_path):
    """MemAvailable is the machine's: under a container's memory limit a run it let through could be killed
    part-way. The smaller of the two counts, from cgroup v2 or v1, at the group or any group above it."""
    import prometheus_sim.memory as memory

    proc, sys_cgroup = tmp_path / "proc", tmp_path / "cgroup"
    (proc / "self").mkdir(parents=True)
    (proc / "meminfo").write_text("MemTotal: 8000000 kB\nMemAvailable: 4000000 kB\n")

    def write(folder: Path, **files: str) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        for name, text in files.items():
            (folder / name.replace("_", ".", 1)).write_text(text)

    # v2: the group's own limit is 'max'; its parent's leaves 1 GiB - 0.25 GiB + 0.125 GiB of dropped cache
    (proc / "self" / "cgroup").write_text("0::/kube/pod1\n")
    write(sys_cgroup / "kube" / "pod1", memory_max="max\n", memory_current="100\n")
    write(sys_cgroup / "kube", memory_max=f"{2**30}\n", memory_current=f"{2**28}\n",
          memory_stat=f"anon 5\ninactive_file {2**27}\n")  # fmt: skip
    assert memory.available_memory_bytes(proc, sys_cgroup) == 2**30 - 2**28 + 2**27
    # no limit anywhere: MemAvailable
    write(sys_cgroup / "kube", memory_max="max\n")
    assert memory.available_memory_bytes(proc, sys_cgroup) == 4000000 * 1024
    # v1 inside a namespace (the group's path is not under the mount: the mount's root is the group)
    (proc / "self" / "cgroup").write_text("5:cpu,cpuacct:/x\n4:memory:/process_api/abc\n0::/\n")
    write(sys_cgroup / "memory", memory_limit_in_bytes=f"{3 * 2**30}\n", memory_usage_in_bytes=f"{2**30}\n",
          memory_stat="total_inactive_file 0\n")  # fmt: skip
    assert memory.available_memory_bytes(proc, sys_cgroup) == 2 * 2**30
    write(sys_cgroup / "memory", memory_limit_in_bytes="9223372036854771712\n")  # v1's "no limit"
    assert memory.available_memory_bytes(proc, sys_cgroup) == 4000000 * 1024
    (proc / "meminfo").unlink()
    assert memory.available_memory_bytes(proc, sys_cgroup) is None  # neither known: nothing is refused


@pytest.mark.skipif(not Path("/proc/meminfo").exists(), reason="reads Linux's /proc/meminfo")
def test_check_memory_compares_the_outputs_with_what_is_available(monkeypatch):
    """The library refuses a market whose outputs exceed what /proc/meminfo says is available, and only then; a
    batch over seeds is counted in seeds."""
    import prometheus_sim.memory as memory
    from prometheus_sim.scenario import load_scenario

    assert memory.available_memory_bytes() > 0
    spec = load_scenario("scenarios/default.yaml").with_overrides(horizon_days=30)
    monkeypatch.setattr(memory, "available_memory_bytes", lambda: 1024)
    with pytest.raises(memory.OutputsTooLarge, match=r"^2 paths x 30 steps of 'default' needs \d+\.\d\d KiB for its "
                       r"outputs, \d+\.\d\d KiB more than the 1\.00 KiB available to this process"):  # fmt: skip
        Market.simulate(spec, n_paths=2)
    with pytest.raises(memory.OutputsTooLarge, match=r"^3 seeds x 30 steps"):
        Market.simulate(spec, seeds=range(3))
    monkeypatch.setattr(memory, "available_memory_bytes", lambda: None)  # unknown (not Linux): no refusal
    assert Market.simulate(spec, n_paths=2).n_paths == 2
    monkeypatch.setattr(memory, "available_memory_bytes", lambda: 2**40)
    assert Market.simulate(spec, n_paths=2).n_paths == 2


def test_an_allocation_that_fails_later_keeps_the_general_advice(monkeypatch, tmp_path):
    """Only the up-front refusal prints its own text: NumPy's "Unable to allocate ..." (any other MemoryError) gets
    the plain advice, as before."""

    def fails(*args, **kwargs):
        raise MemoryError("Unable to allocate 728. TiB for an array with shape (10000000, 10000000)")

    monkeypatch.setattr(Market, "simulate", fails)
    res = CliRunner().invoke(main, ["simulate", "default", "--paths", "2", "--no-plots", "--out", str(tmp_path / "o")])
    assert res.exit_code == 1
    assert "error: prometheus-sim simulate ran out of memory: ask for fewer paths, seeds or horizon days" in res.output
    assert "Unable to allocate" not in res.output and "Traceback" not in res.output


def test_a_parameter_that_is_not_the_number_its_default_is_refused_by_name(tmp_path, monkeypatch):
    """``risky_share=0.6x`` or ``horizon=3O`` reached the strategy as a string (``horizon=2.5`` was cut to 2); an
    int where the annotation says float is a number, and a parameter the check cannot type is left alone."""
    from prometheus_sim.strategy_spec import StrategySpec
    from strategies.registry import build

    with pytest.raises(ValueError, match=r"risky_share='0.6x' is not a number \(--strategy-param reads"):
        build(StrategySpec("sixty_forty", (("risky_share", "0.6x"),)))
    assert build(StrategySpec("sixty_forty", (("risky_share", 1),))).risky_share == 1
    for value, words in (("3O", r"horizon='3O' is not an integer \(or null\)"), (2.5, "horizon=2.5 is not an integer")):
        with pytest.raises(ValueError, match=words):  # refused before the forecaster is looked up
            build(StrategySpec("forecast", (("horizon", value),)))
    (tmp_path / "mine.py").write_text(
        "class Tilted:\n"
        "    name = 'tilted'\n"
        "    def __init__(self, min_move: float = 0, label='x', flag: bool = False, **extra):\n"
        "        self.min_move, self.label, self.flag = min_move, label, flag\n"
        "    def decide_batch(self, snapshots):\n"
        "        return None\n"
    )  # fmt: skip
    monkeypatch.syspath_prepend(str(tmp_path))
    assert build(StrategySpec("mine:Tilted", (("min_move", 0.02), ("label", 3), ("other", "x")))).min_move == 0.02
    with pytest.raises(ValueError, match=r"flag=1 is not true or false"):
        build(StrategySpec("mine:Tilted", (("flag", 1),)))


def test_two_first_runs_making_the_cache_folder_at_once_share_it(tmp_path, monkeypatch):
    """The other process makes the folder between the check and the mkdir: it is taken, not skipped (two first runs
    at once split the cache between the project and the home folder, review)."""
    import os

    from prometheus_sim import writable_folder

    real_mkdir = os.mkdir

    def made_by_the_other_process_first(path, mode=0o777):
        real_mkdir(path, mode)
        raise FileExistsError(path)

    monkeypatch.setattr(os, "mkdir", made_by_the_other_process_first)
    assert writable_folder([tmp_path / "a" / "numba", tmp_path / "b"]) == tmp_path / "a" / "numba"


def test_a_relative_cache_folder_is_made_absolute_and_a_damaged_cache_is_named(tmp_path):
    """A relative NUMBA_CACHE_DIR was one cache per working directory; a truncated cache file made every run end in
    click's "Aborted!", as if the user had pressed Ctrl-C, warmup included (review)."""
    import os
    import shutil
    import subprocess
    import sys

    from tests.conftest import ROOT

    probe = "import prometheus_sim, os, numba; print(os.environ['NUMBA_CACHE_DIR']); print(numba.config.CACHE_DIR)"
    env = {**os.environ, "NUMBA_CACHE_DIR": "relcache", "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True,
                         check=True).stdout.split()  # fmt: skip
    assert out == [str(tmp_path / "relcache")] * 2
    from prometheus_sim.market import Market
    from prometheus_sim.scenario import load_scenario

    Market.simulate(load_scenario(ROOT / "scenarios" / "default.yaml").with_horizon(2))  # the kernels cached (warm)
    damaged = tmp_path / "damaged"
    shutil.copytree(os.environ["NUMBA_CACHE_DIR"], damaged)
    index_files = list(damaged.rglob("*.nbi"))
    assert index_files
    for f in index_files:
        f.write_bytes(b"")
    res = subprocess.run([sys.executable, "-m", "prometheus_sim.cli", "simulate", "default", "--paths", "1",
                          "--no-plots", "--no-progress", "--out", str(tmp_path / "o")],
                         cwd=ROOT, env={**os.environ, "NUMBA_CACHE_DIR": str(damaged), "PYTHONPATH": str(ROOT)},
                         capture_output=True, text=True)  # fmt: skip
    assert res.returncode == 2, res.stderr[-2000:]
    assert f"the compiled-kernel cache in {damaged} is damaged (EOFError" in res.stderr and "Aborted" not in res.stderr


def test_an_interrupted_simulate_into_a_reused_folder_leaves_no_other_markets_facts(tmp_path, monkeypatch):
    """Ctrl-C between the save and the new facts left crypto_winter's facts and charts beside default's market
    (review of 2026-12-05)."""
    import prometheus_sim.facts as facts_module

    out = tmp_path / "m"
    first = CliRunner().invoke(main, ["simulate", "crypto_winter", "--paths", "2", "--out", str(out)])
    assert first.exit_code == 0 and (out / "stylised_facts.csv").exists() and list(out.glob("fan_*.png"))

    def interrupted(market):
        raise KeyboardInterrupt

    monkeypatch.setattr(facts_module, "stylised_facts_and_correlation", interrupted)
    second = CliRunner().invoke(main, ["simulate", "default", "--paths", "2", "--out", str(out)])
    assert second.exit_code != 0
    assert json.loads((out / "manifest.json").read_text())["name"] == "default"
    assert not [p.name for p in out.iterdir() if p.name.startswith(("stylised_facts", "correlation", "fan_"))]
