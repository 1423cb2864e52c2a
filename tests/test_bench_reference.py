"""The NumPy reference the simulator's speed is rated against simulates the kernel's model.

``benchmarks/bench_simulate.py`` rates the kernel against a hand-written NumPy version of the same model
(``benchmarks/numpy_reference.py``). A reference that drifted to a cheaper or a costlier model would make the
ratio meaningless, so every output's per-path statistics are compared, each side with its own random numbers:
the same model agrees within sampling error, and a reference with one parameter changed does not.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from prometheus_sim.generators import TRUTH_FIELDS, build_inputs, generate, layout
from prometheus_sim.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from numpy_reference import agreement, model_statistics, reference_simulate  # noqa: E402

Z_MAX = 4.0  # about 65 statistics: |z| beyond 4 by chance is about 4 in 1,000 runs, and the seeds are fixed


def _ours(spec, n_paths: int) -> dict[str, np.ndarray]:
    out = generate(spec, 3, np.arange(n_paths))
    return {**out.blocks._asdict(), **{name: getattr(out, name) for name in TRUTH_FIELDS}}


def _largest_z(ours: dict[str, np.ndarray], ref: dict[str, np.ndarray], inp) -> tuple[float, str]:
    rows = agreement(model_statistics(ours, inp.steps_per_day, inp.driver),
                     model_statistics(ref, inp.steps_per_day, inp.driver))  # fmt: skip
    worst = max(rows, key=lambda row: abs(row["z"]))
    return abs(worst["z"]), worst["statistic"]


@pytest.mark.parametrize(
    ("path", "days"),
    [("scenarios/default.yaml", 365), ("scenarios/stablecoin_depeg.yaml", None),
     ("tests/data/golden_every_process_24.yaml", None)],
)  # fmt: skip
def test_reference_draws_the_kernels_model(path: str, days: int | None) -> None:
    spec = load_scenario(ROOT / path)
    if days is not None:
        spec = spec.model_copy(update={"horizon_days": days})
    n_paths = 200
    inp = build_inputs(spec)
    ref = reference_simulate(inp, 11, n_paths)
    shapes = layout(n_paths, spec.n_steps, len(spec.assets), len(spec.signals))
    assert {name: (arr.shape, arr.dtype) for name, arr in ref.items()} == {
        name: (shape, np.dtype(dtype)) for name, (shape, dtype) in shapes.items()
    }
    assert all(arr.flags.c_contiguous for arr in ref.values())
    worst, where = _largest_z(_ours(spec, n_paths), ref, inp)
    assert worst <= Z_MAX, f"{where}: z = {worst:.2f}"


def _changed(inp, **changes):
    """``inp`` with parameter columns changed: ``table=(column, function of the old column)``."""
    replaced = {}
    for table, (column, fn) in changes.items():
        values = getattr(inp, table).copy()
        values[..., column] = fn(values[..., column])
        replaced[table] = values
    return inp._replace(**replaced)


@pytest.fixture(scope="module")
def default_year():
    spec = load_scenario(ROOT / "scenarios/default.yaml").model_copy(update={"horizon_days": 365})
    return build_inputs(spec), _ours(spec, 200)


def _cheaper_models(inp) -> dict[str, object]:
    from prometheus_sim.generators import macro as mc
    from prometheus_sim.generators import price as pr
    from prometheus_sim.generators import signals as sg

    vol = inp.asset_p.copy()
    vol[0, [pr.A_SIGMA, pr.A_BASE_SD]] *= 1.25
    vol[0, pr.A_GARCH_OMEGA] *= 1.25**2  # its GARCH's long-run variance
    return {
        "asset 0's vol 25 % higher": inp._replace(asset_p=vol),
        "the inflow z-score firing at 2 sigma, not 3": _changed(
            inp, signal_p=(sg.S_THRESHOLD, lambda v: np.where(np.arange(v.size) == 0, 2.0, v))
        ),  # fmt: skip
        # what a review found the first check (means only) let through, each a cheaper model than the kernel's
        "uncorrelated assets": inp._replace(chol=np.eye(inp.chol.shape[0])),
        "one sub-step instead of four": inp._replace(n_sub=1),
        "jump sizes without their common factor": _changed(inp, asset_p=(pr.A_JUMP_COMMON, lambda v: 0.0 * v)),
        "the dollar index's correlation flipped": _changed(inp, macro_p=(mc.M_DXY_CORR, lambda v: -v)),
        "no GARCH": _changed(
            _changed(inp, asset_p=(pr.A_GARCH_ALPHA, lambda v: 0.0 * v)), asset_p=(pr.A_GARCH_BETA, lambda v: 0.0 * v)
        ),  # fmt: skip
    }


@pytest.mark.parametrize("change", ["asset 0's vol 25 % higher", "the inflow z-score firing at 2 sigma, not 3",
                                    "uncorrelated assets", "one sub-step instead of four",
                                    "jump sizes without their common factor", "the dollar index's correlation flipped",
                                    "no GARCH"])  # fmt: skip
def test_agreement_check_sees_a_different_model(default_year, change: str) -> None:
    """A reference drawing another model is told apart: the check can fail. (Its power at 200 paths x 365 days:
    a 10 % higher vol gives z 2.8 only, as regimes and GARCH make each path's vol vary widely.)"""
    inp, ours = default_year
    worst, where = _largest_z(ours, reference_simulate(_cheaper_models(inp)[change], 11, 200), inp)
    assert worst > Z_MAX, f"{change}: largest z {worst:.2f} ({where})"


def test_prices_only_extent() -> None:
    spec = load_scenario(ROOT / "scenarios/default.yaml").model_copy(update={"horizon_days": 30})
    assert set(reference_simulate(build_inputs(spec), 11, 5, everything=False)) == {"open", "high", "low", "close",
                                                                                     "volume"}  # fmt: skip
