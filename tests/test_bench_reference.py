"""The NumPy reference the simulator's speed is rated against simulates the kernel's model.

``benchmarks/bench_simulate.py`` rates the kernel against a hand-written NumPy version of the same model
(``benchmarks/numpy_reference.py``). A reference that drifted to a cheaper or a costlier model would make the
ratio meaningless, so every output's per-path statistics are compared, each side with its own random numbers:
the same model agrees within sampling error, and a reference with one parameter changed does not.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest

from prometheus_sim.generators import TRUTH_FIELDS, build_inputs, generate, layout
from prometheus_sim.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from numpy_reference import model_statistics, reference_simulate  # noqa: E402

Z_MAX = 4.0  # about 35 statistics: |z| beyond 4 by chance is about 2 in 1,000 runs, and the seeds are fixed


def _ours(spec, n_paths: int) -> dict[str, np.ndarray]:
    out = generate(spec, 3, np.arange(n_paths))
    return {**out.blocks._asdict(), **{name: getattr(out, name) for name in TRUTH_FIELDS}}


def _largest_z(ours: dict[str, np.ndarray], ref: dict[str, np.ndarray], steps_per_day: int) -> tuple[float, str]:
    a, b = model_statistics(ours, steps_per_day), model_statistics(ref, steps_per_day)
    worst, where = 0.0, ""
    for name, (mean_a, se_a) in a.items():
        mean_b, se_b = b[name]
        se = math.hypot(se_a, se_b)
        z = abs(mean_a - mean_b) / se if se > 0 else (0.0 if mean_a == mean_b else math.inf)
        if z > worst:
            worst, where = z, name
    return worst, where


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
    ref = reference_simulate(build_inputs(spec), 11, n_paths)
    shapes = layout(n_paths, spec.n_steps, len(spec.assets), len(spec.signals))
    assert {name: (arr.shape, arr.dtype) for name, arr in ref.items()} == {
        name: (shape, np.dtype(dtype)) for name, (shape, dtype) in shapes.items()
    }
    worst, where = _largest_z(_ours(spec, n_paths), ref, spec.steps_per_day)
    assert worst <= Z_MAX, f"{where}: z = {worst:.2f}"


def test_agreement_check_sees_a_different_model() -> None:
    """A reference with the driver's vol 25 % higher, or a signal firing more often, is told apart: the check can
    fail. (Its power at 200 paths x 365 days: a 10 % higher vol gives z 2.8 only, as regimes and GARCH make each
    path's vol vary widely.)"""
    from prometheus_sim.generators import price as pr
    from prometheus_sim.generators import signals as sg

    spec = load_scenario(ROOT / "scenarios/default.yaml").model_copy(update={"horizon_days": 365})
    ours = _ours(spec, 200)
    inp = build_inputs(spec)
    asset_p = inp.asset_p.copy()
    asset_p[0, pr.A_SIGMA] *= 1.25
    asset_p[0, pr.A_BASE_SD] *= 1.25
    asset_p[0, pr.A_GARCH_OMEGA] *= 1.25**2  # its GARCH's long-run variance
    worst, where = _largest_z(ours, reference_simulate(inp._replace(asset_p=asset_p), 11, 200), spec.steps_per_day)
    assert worst > Z_MAX and where.startswith("asset 0")
    prices_only = reference_simulate(inp, 11, 200, everything=False)
    assert set(prices_only) == {"open", "high", "low", "close", "volume"}
    looser = inp.signal_p.copy()
    looser[0, sg.S_THRESHOLD] = 2.0  # the inflow z-score fires at 2 sigma instead of 3
    worst, where = _largest_z(ours, reference_simulate(inp._replace(signal_p=looser), 11, 200), spec.steps_per_day)
    assert worst > Z_MAX and where.startswith("signal")
