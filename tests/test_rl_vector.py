"""PortfolioVectorEnv: the batched Numba env rolls exactly the single env's trajectories, ignores the
future, gives the same bytes at any thread count, and refuses bad input."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import numba
import numpy as np
import pytest

from prometheus_sim.market import Market
from prometheus_sim.portfolio import CostModel, RiskProfile
from prometheus_sim.rl.env import PortfolioEnv
from prometheus_sim.rl.prefetch import prefetch_nb
from prometheus_sim.rl.vector import CHUNK_ENVS, PREFETCH_AHEAD, PooledVectorEnv, PortfolioVectorEnv
from prometheus_sim.scenario import load_scenario
from tests.conftest import ROOT, SCENARIOS
from tests.test_rl_env import moved_after

COSTS = CostModel(fees_bps=10.0, slippage_bps=2.0, impact=0.1)


@pytest.fixture(scope="module")
def market() -> Market:
    return Market.simulate(load_scenario(SCENARIOS / "default.yaml").with_horizon(300), n_paths=3)


@pytest.fixture(scope="module")
def market4() -> Market:
    return Market.simulate(load_scenario(SCENARIOS / "default.yaml").with_overrides(horizon_days=200, steps_per_day=4),
                           n_paths=2)  # fmt: skip


@pytest.fixture(scope="module")
def market_four_assets() -> Market:
    return Market.simulate(load_scenario(SCENARIOS / "fitted_2020_2023.yaml").with_horizon(300), n_paths=2)


@pytest.mark.parametrize("layout", ["market", "market4", "market_four_assets"])
def test_batched_and_single_envs_roll_the_same_trajectories(request, layout):
    """Same draws and actions: observations, rewards and values agree exactly, across autoresets (at four
    steps a day too: the feature tail is the last whole day's in both). The batched step is compiled per
    market layout (``vector_step_kernel``: asset kinds, cash asset, steps a day, period as constants),
    so it is checked on three: ``default`` daily and at four steps a day, and four assets."""
    market = request.getfixturevalue(layout)
    n = PREFETCH_AHEAD + 3  # some envs are stepped after the kernel prefetched their rows
    vec = PortfolioVectorEnv(n, market=market, episode_days=35, costs=COSTS, leak_future=True)
    singles = [PortfolioEnv(market=market, episode_days=35, costs=COSTS, leak_future=True) for _ in range(n)]
    obs, _ = vec.reset(seed=7)
    first = [singles[j].reset(options=vec.last_draws.profile(j, market.steps_per_day))[0] for j in range(n)]
    np.testing.assert_array_equal(obs, np.array(first))
    rng = np.random.default_rng(1)
    resets = 0
    for _ in range(14):  # 5 decisions an episode: every env resets twice
        actions = rng.integers(0, 7, n)
        obs, reward, term, trunc, info = vec.step(actions)
        done = np.flatnonzero(trunc)
        for j in range(n):
            s_obs, s_reward, s_term, s_trunc, s_info = singles[j].step(int(actions[j]))
            assert s_reward == reward[j] and s_trunc == trunc[j] and not s_term
            last = info["final_info"] if j in done else info  # Gymnasium's same-step keys
            assert (s_info["value"], s_info["step"], s_info["path"]) == (last["value"][j], last["step"][j],
                                                                         last["path"][j])  # fmt: skip
            np.testing.assert_array_equal(info["final_obs"][j] if j in done else obs[j], s_obs)
        for k, j in enumerate(done):
            assert info["_final_info"][j] and info["final_info"]["_value"][j] and info["_final_obs"][j]
            assert info["final_value"][j] == info["final_info"]["value"][j]
            s_obs, s_info = singles[j].reset(options=vec.last_draws.profile(k, market.steps_per_day))
            np.testing.assert_array_equal(obs[j], s_obs)
            new_episode = (info["value"][j], info["step"][j], info["path"][j])
            assert (s_info["value"], s_info["step"], s_info["path"]) == new_episode
            resets += 1
    assert resets == 2 * n


def test_the_months_to_goal_count_from_the_episodes_start(market):
    vec = PortfolioVectorEnv(64, market=market, episode_days=35)
    obs, _ = vec.reset(seed=0)
    drawn = np.array([vec.last_draws.profile(j, 1)["profile"].time_to_goal for j in range(64)])
    assert vec.last_draws.starts.min() > 30  # the goal would have been eaten by the market's first months
    np.testing.assert_allclose(obs[:, 15] * 120, drawn, atol=0.5 + 1e-4)


def test_the_batched_observation_ignores_the_future(market):
    t_cut = 150
    moved = moved_after(market, t_cut)
    a, b2 = (
        PortfolioVectorEnv(32, market=market, episode_days=35),
        PortfolioVectorEnv(32, market=moved, episode_days=35),
    )
    oa, _ = a.reset(seed=3)
    ob, _ = b2.reset(seed=3)
    rng = np.random.default_rng(0)
    compared = 0
    for _ in range(12):
        seen = a.t <= t_cut
        np.testing.assert_array_equal(oa[seen], ob[seen])
        compared += int(seen.sum())
        actions = rng.integers(0, 7, 32)
        oa, ra, _, trunc, ia = a.step(actions)
        ob, rb, _, _, ib = b2.step(actions)
        last = ia["final_info"]["step"] if trunc.any() else ia["step"]  # a finished env's: before its reset
        marked = np.where(trunc, last, ia["step"]) <= t_cut
        np.testing.assert_array_equal(ra[marked], rb[marked])
    assert compared > 100


_ROLL_CHILD = """
import hashlib, json
import numba, numpy as np
from prometheus_sim.market import Market
from prometheus_sim.portfolio import CostModel
from prometheus_sim.rl.vector import PortfolioVectorEnv
from prometheus_sim.scenario import load_scenario
market = Market.simulate(load_scenario("scenarios/default.yaml").with_horizon(300), n_paths=3)
vec = PortfolioVectorEnv(200, market=market, episode_days=35, costs=CostModel(fees_bps=10.0, slippage_bps=2.0, impact=0.1))
out = [vec.reset(seed=5)[0]]
rng = np.random.default_rng(2)
for _ in range(8):
    obs, reward, *_ = vec.step(rng.integers(0, 7, 200))
    out += [obs, reward]
digest = hashlib.sha256(b"".join(np.ascontiguousarray(x).tobytes() for x in out)).hexdigest()
print(json.dumps({"threads": numba.get_num_threads(), "digest": digest}))
"""


def test_the_bytes_do_not_depend_on_the_thread_count():
    """1 and 2 threads, each in its own process. In-process, the test compared 1 thread with
    ``NUMBA_NUM_THREADS``, which is 1 on a one-core machine or wherever it is exported: one run with itself
    (review of the tests, session 25). 200 envs are four chunks, so both threads step some."""

    def roll(threads: int) -> dict:
        env = dict(os.environ, NUMBA_NUM_THREADS=str(threads))
        out = subprocess.run([sys.executable, "-c", _ROLL_CHILD], env=env, cwd=ROOT, capture_output=True, text=True,
                             check=True)  # fmt: skip
        return json.loads(out.stdout.strip().splitlines()[-1])

    one, two = roll(1), roll(2)
    assert one["threads"] == 1 and two["threads"] == 2 and -(-200 // CHUNK_ENVS) >= 2
    assert one["digest"] == two["digest"]


@pytest.mark.parametrize("staggered", [False, True])
def test_returned_observations_are_never_written_again(market, staggered):
    """The env hands its observation arrays back without a copy, so it must never write to one again:
    each step fills a new array, and the resets write into a new one when every env finished, into
    the step's own (before it is returned) when some did (staggered: the odd envs' episodes are made
    one decision longer, so from then on half the envs finish at each of two steps)."""
    vec = PortfolioVectorEnv(70, market=market, episode_days=35, costs=COSTS)
    first, _ = vec.reset(seed=1)
    if staggered:
        vec.end[1::2] += vec.pool.template._period
    kept = [(first, first.copy())]
    rng = np.random.default_rng(6)
    resets, partial = 0, 0
    for _ in range(12):  # five decisions an episode: autoresets included
        obs, _, _, truncated, info = vec.step(rng.integers(0, 7, vec.num_envs))
        kept.append((obs, obs.copy()))
        resets += int(truncated.sum())
        partial += int(truncated.any() and not truncated.all())
        if "final_obs" in info:
            kept.append((info["final_obs"], info["final_obs"].copy()))
    assert resets > 0 and (partial > 0) == staggered
    assert len({id(array) for array, _ in kept}) == len(kept)
    for array, snapshot in kept:
        assert np.array_equal(array, snapshot)


def test_final_observations_when_all_or_some_envs_finish(market):
    """Envs finish together (one episode length), and the step hands its own array over as final_obs;
    when only some finish (here: the odd envs' episodes are made one decision longer), final_obs holds
    their rows and zeros elsewhere. Both give the same final rows."""
    together = PortfolioVectorEnv(10, market=market, episode_days=35, costs=COSTS)
    staggered = PortfolioVectorEnv(10, market=market, episode_days=35, costs=COSTS)
    together.reset(seed=8)
    staggered.reset(seed=8)
    staggered.end[1::2] += together.pool.template._period
    rng = np.random.default_rng(9)
    for _ in range(10):
        actions = rng.integers(0, 7, 10)
        _, _, _, done_all, info_all = together.step(actions)
        _, _, _, done_some, info_some = staggered.step(actions)
        if done_all.any():
            break
    assert done_all.all() and info_all["_final_obs"].all()
    assert (done_some == (np.arange(10) % 2 == 0)).all() and (info_some["_final_obs"] == done_some).all()
    np.testing.assert_array_equal(info_some["final_obs"][0::2], info_all["final_obs"][0::2])
    assert not info_some["final_obs"][1::2].any()


def test_infos_carry_gymnasium_keys_and_masks(market):
    """The batched, pooled and Gymnasium's own SyncVectorEnv of single envs write the same info keys, each with
    its ``_key`` mask: every env at the top level, the finished ones in ``final_info``."""
    import gymnasium as gym

    sync = gym.vector.SyncVectorEnv([lambda: PortfolioEnv(market=market, episode_days=35) for _ in range(3)],
                                    autoreset_mode=gym.vector.AutoresetMode.SAME_STEP)  # fmt: skip
    ours = PortfolioVectorEnv(3, market=market, episode_days=35)
    pooled = PooledVectorEnv([PortfolioVectorEnv(2, market=market, episode_days=35),
                              PortfolioVectorEnv(1, market=market, episode_days=35)])  # fmt: skip
    infos = [env.reset(seed=3)[1] for env in (sync, ours, pooled)]
    for info in infos:
        assert set(info) == set(infos[0]) == {"value", "_value", "step", "_step", "path", "_path"}
        assert info["_value"].all() and info["_step"].all() and info["_path"].all()
    for _ in range(5):
        infos = [env.step(np.zeros(3, dtype=np.int64))[4] for env in (sync, ours, pooled)]
    for info in infos:
        assert set(info) >= set(infos[0]) - {"final_value"} and set(info["final_info"]) == set(infos[0]["final_info"])
        assert info["_final_info"].all() and info["final_info"]["_value"].all() and info["_step"].all()
    sync.close()


def test_pools_split_and_concatenate(market):
    other = Market.simulate(load_scenario(SCENARIOS / "crypto_winter.yaml").with_horizon(300), n_paths=2)
    counts = PooledVectorEnv.split(5, 2)
    assert counts == [3, 2]
    env = PooledVectorEnv(
        [PortfolioVectorEnv(c, market=m, episode_days=35) for c, m in zip(counts, [market, other], strict=True)]
    )
    obs, info = env.reset(seed=0)
    assert obs.shape == (5, 50) and env.observation_space.contains(obs)
    for _ in range(5):
        obs, reward, term, trunc, info = env.step(np.zeros(5, dtype=np.int64))
    assert trunc.all() and info["_final_obs"].all() and np.isfinite(reward).all()
    assert info["final_value"].shape == (5,) and np.isfinite(info["final_value"]).all()  # each pool's, kept
    np.testing.assert_array_equal(info["final_info"]["value"], info["final_value"])
    assert info["_final_info"].all() and (info["final_info"]["step"] != info["step"]).all()  # last step, new start
    with pytest.raises(ValueError, match="fewer than the 2 market pools"):
        PooledVectorEnv.split(1, 2)
    # runs seeded 0 and 1 draw other episodes in every pool (pool k took seed + k: pool 1 at 0 replayed pool 0 at 1)
    twins = PooledVectorEnv([PortfolioVectorEnv(16, market=market, episode_days=35) for _ in range(2)])
    twins.reset(seed=0)
    zero = [p.last_draws for p in twins.parts]
    twins.reset(seed=1)
    one = [p.last_draws for p in twins.parts]
    assert not np.array_equal(zero[1].starts, one[0].starts) and not np.array_equal(zero[0].starts, one[1].starts)
    alone = PortfolioVectorEnv(16, market=market, episode_days=35)
    alone.reset(seed=1)
    np.testing.assert_array_equal(alone.last_draws.starts, one[0].starts)  # the first pool keeps the run's seed
    for wrong in (np.zeros(6, dtype=np.int64), np.zeros(4, dtype=np.int64)):  # never dropped or split unevenly
        with pytest.raises(ValueError, match=r"actions: expected 5 integers, got shape \(\d,\)"):
            env.step(wrong)


def test_bad_input_is_refused(market):
    with pytest.raises(ValueError, match="num_envs: must be an integer >= 1"):
        PortfolioVectorEnv(0, market=market)
    vec = PortfolioVectorEnv(3, market=market, episode_days=35)
    with pytest.raises(RuntimeError, match="call reset"):
        vec.step(np.zeros(3, dtype=np.int64))
    vec.reset(seed=0)
    with pytest.raises(ValueError, match="action 7: must be an integer in 0..6"):
        vec.step(np.array([0, 7, 1]))
    with pytest.raises(ValueError, match="expected 3 integers"):
        vec.step(np.zeros(2, dtype=np.int64))
    with pytest.raises(ValueError, match="draws its episodes"):
        vec.reset(options={"path": 0})
    # a boolean among integers: np.asarray made [True, 1, 2] integers, and True ran as action 1 (review)
    for mixed in ([True, 1, 2], [np.True_, 0, 0], (0, False, 1), [np.array(True), 1, 2]):
        with pytest.raises(ValueError, match="actions: a boolean is not an action"):
            vec.step(mixed)
    pooled = PooledVectorEnv([PortfolioVectorEnv(2, market=market, episode_days=35) for _ in range(2)])
    pooled.reset(seed=0)
    with pytest.raises(ValueError, match="actions: a boolean is not an action"):
        pooled.step([1, True, 0, 2])


def test_actions_of_any_layout_step_the_one_compiled_kernel(market):
    """A strided view or another integer type steps like a contiguous int64 array, through the kernel already
    compiled for it: handed over as it was, a strided view compiled a second kernel (12 s; review, 2026-12-05)."""
    first, second = (PortfolioVectorEnv(4, market=market, episode_days=35) for _ in range(2))
    first.reset(seed=3)
    second.reset(seed=3)
    actions = np.array([[1, 9], [6, 9], [3, 9], [0, 9]])
    for cast in (lambda a: a[:, 0], lambda a: a[:, 0].astype(np.int32)):
        got = first.step(cast(actions))
        want = second.step(np.ascontiguousarray(actions[:, 0], dtype=np.int64))
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_array_equal(got[1], want[1])
    assert len(first._step_kernel.signatures) == 1, first._step_kernel.signatures


def test_a_profile_draw_round_trips_to_reset_options(market):
    """A batched env's draw, handed to a single env's reset, opens the same episode: same observation."""
    vec = PortfolioVectorEnv(2, market=market, episode_days=35)
    obs, _ = vec.reset(seed=11)
    opts = vec.last_draws.profile(1, market.steps_per_day)
    assert isinstance(opts["profile"], RiskProfile) and 0 <= opts["path"] < market.n_paths
    single = PortfolioEnv(market=market, episode_days=35)
    first, _ = single.reset(options=opts)
    np.testing.assert_array_equal(first, obs[1])


@pytest.fixture(scope="module")
def market3() -> Market:
    """Three non-cash assets (BTC, ETH, SOL beside USDC): a buy's share of cash, 1/6 each, is not a binary fraction."""
    return Market.simulate(load_scenario(SCENARIOS / "fitted_2020_2023.yaml").with_horizon(300), n_paths=3)


@pytest.mark.parametrize("leak,pool", [(False, "market"), (True, "market"), (False, "market3")])
def test_the_torch_twin_rolls_the_numba_envs_trajectories(leak, pool, request):
    """float64 on CPU: the same draws and actions give the same observations, rewards and values (1e-12;
    the observations are float32 on both sides, computed in float64 first)."""
    import torch

    from prometheus_sim.rl.vector_torch import TorchPortfolioVectorEnv

    market = request.getfixturevalue(pool)
    n = 48
    vec = PortfolioVectorEnv(n, market=market, episode_days=35, costs=COSTS, leak_future=leak)
    twin = TorchPortfolioVectorEnv(n, vec.pool, device="cpu", dtype=torch.float64)
    o_nb, _ = vec.reset(seed=4)
    o_t = twin.reset(seed=4).numpy()
    np.testing.assert_allclose(o_t, o_nb, rtol=1e-12, atol=1e-12)
    rng = np.random.default_rng(3)
    for _ in range(16):  # several autoresets (5 decisions an episode)
        actions = rng.integers(0, 7, n)
        o_nb, r_nb, _, d_nb, i_nb = vec.step(actions)
        o_t, r_t, d_t, i_t = twin.step(torch.as_tensor(actions))
        np.testing.assert_array_equal(d_t.numpy(), d_nb)
        np.testing.assert_allclose(r_t.numpy(), r_nb, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(i_t["value"].numpy(), i_nb["value"], rtol=1e-12)  # the new episodes' after a reset
        for key in ("step", "path"):
            np.testing.assert_array_equal(i_t[key].numpy(), i_nb[key])
        for key in ("_value", "_step", "_path"):
            np.testing.assert_array_equal(i_t[key].numpy(), i_nb[key])
        if not d_nb.any():  # the Numba env writes the final keys only on a step where an env finished
            assert np.isnan(i_t["final_value"].numpy()).all()
        np.testing.assert_allclose(o_t.numpy(), o_nb, rtol=1e-12, atol=1e-12)
        if d_nb.any():
            np.testing.assert_allclose(i_t["final_obs"].numpy()[d_nb], i_nb["final_obs"][d_nb], rtol=1e-12, atol=1e-12)
            np.testing.assert_allclose(i_t["final_info"]["value"].numpy()[d_nb], i_nb["final_info"]["value"][d_nb],
                                       rtol=1e-12)  # fmt: skip
            assert (i_t["_final_info"].numpy() == d_nb).all() and (i_t["final_info"]["_value"].numpy() == d_nb).all()
            for key in ("step", "path"):
                np.testing.assert_array_equal(i_t["final_info"][key].numpy()[d_nb], i_nb["final_info"][key][d_nb])
            np.testing.assert_allclose(
                i_t["final_value"].numpy(), i_nb["final_value"], rtol=1e-12
            )  # NaN where not done


def test_the_torch_twin_refuses_a_dtype_it_cannot_hold_a_book_in(market):
    import torch

    from prometheus_sim.rl.vector_torch import TorchPortfolioVectorEnv

    pool = PortfolioVectorEnv(2, market=market, episode_days=35).pool
    for dtype in (torch.float16, torch.int64):
        with pytest.raises(ValueError, match="dtype: torch.float32 .* or torch.float64"):
            TorchPortfolioVectorEnv(2, pool, dtype=dtype)


def test_the_torch_twin_checks_unsigned_actions_as_the_numba_env_does(market):
    """uint16..uint64 tensors have no min/max in torch: a uint64 batch crashed with NotImplementedError."""
    import torch

    from prometheus_sim.rl.vector_torch import TorchPortfolioVectorEnv

    twin = TorchPortfolioVectorEnv(2, PortfolioVectorEnv(2, market=market, episode_days=35).pool, seed=0)
    twin.reset()
    for bad in (np.array([1, 7], np.uint64), np.array([1, 2**63 + 1], np.uint64), np.array([1, 70000], np.uint32)):
        with pytest.raises(ValueError, match="actions: expected 2 integers in 0..6"):
            twin.step(bad)
    twin.step(np.array([1, 2], np.uint64))
    twin.step(torch.tensor([3, 0], dtype=torch.uint8))
    with pytest.raises(ValueError, match="actions: a boolean is not an action"):
        twin.step([True, 2])


def test_the_torch_twin_in_float32_stays_within_its_stated_tolerance(market):
    """float32 (what a GPU runs): values within 1e-4 relative and rewards within 1e-2 over an episode."""
    import torch

    from prometheus_sim.rl.vector_torch import TorchPortfolioVectorEnv

    n = 32
    vec = PortfolioVectorEnv(n, market=market, episode_days=35, costs=COSTS)
    twin = TorchPortfolioVectorEnv(n, vec.pool, device="cpu", dtype=torch.float32)
    vec.reset(seed=9)
    twin.reset(seed=9)
    rng = np.random.default_rng(5)
    for _ in range(4):  # within the first episode: no reset draws in between
        actions = rng.integers(0, 7, n)
        _, r_nb, *_ = vec.step(actions)
        _, r_t, _, i_t = twin.step(torch.as_tensor(actions))
        np.testing.assert_allclose(i_t["value"].numpy(), vec.state.value, rtol=1e-4)
        np.testing.assert_allclose(r_t.numpy(), r_nb, atol=1e-2)
    for wrong in (torch.full((n,), 2.5), torch.ones(n, dtype=torch.bool), torch.zeros(n + 1, dtype=torch.int64)):
        with pytest.raises(ValueError, match=f"actions: expected {n} integers in 0..6"):
            twin.step(wrong)  # a float action is not truncated to one, nor a flag taken as action 1
    with pytest.raises(RuntimeError, match="call reset"):
        TorchPortfolioVectorEnv(n, vec.pool).step(torch.zeros(n, dtype=torch.int64))  # not NaN rewards
    with pytest.raises(ValueError, match="--device 'tpu': cpu or cuda"):
        TorchPortfolioVectorEnv(n, vec.pool, device="tpu")
    with pytest.raises(ValueError, match="num_envs: must be an integer >= 1, got True"):
        TorchPortfolioVectorEnv(True, vec.pool)


@pytest.mark.parametrize("dtype_name", ["float64", "float32"])
def test_the_torch_twins_trailing_stats_call_a_flat_window_flat(market, dtype_name):
    """As trailing_stats_row_nb: a window of equal returns has no volatility and a Sharpe of 0 (not the mean over
    rounding noise, about 1e8 in float32), while a real window keeps its statistics."""
    import torch

    from prometheus_sim.portfolio.nb import WINDOW_DAYS
    from prometheus_sim.rl.vector_torch import TorchPortfolioVectorEnv

    dtype = getattr(torch, dtype_name)
    twin = TorchPortfolioVectorEnv(3, PortfolioVectorEnv(3, market=market).pool, device="cpu", dtype=dtype)
    prices = 100.0 * torch.cumprod(torch.full((WINDOW_DAYS + 1,), 1.0 + 1e-4, dtype=dtype), 0)
    real = torch.as_tensor(np.random.default_rng(2).normal(1e-3, 0.02, WINDOW_DAYS), dtype=dtype)
    twin.ring[:] = torch.stack([prices[1:] / prices[:-1] - 1.0, torch.zeros(WINDOW_DAYS, dtype=dtype), real])
    twin.ring_n[:] = WINDOW_DAYS
    vol, sharpe = twin._stats()
    assert vol[:2].tolist() == [0.0, 0.0] and sharpe[:2].tolist() == [0.0, 0.0]
    sd = float(real.double().std())
    assert float(vol[2]) == pytest.approx(sd * np.sqrt(365.0), rel=1e-5)
    assert float(sharpe[2]) == pytest.approx(float(real.double().mean()) / sd * np.sqrt(365.0), rel=1e-4)


def test_prefetch_emits_the_hint_and_changes_no_value():
    """The kernel's prefetch is a real prefetch instruction, leaves every value as it was, and
    compiles to nothing for a strided array (its flat index names no element there)."""

    @numba.njit
    def gather(values, index, ahead):
        total = 0.0
        for k in range(index.shape[0]):
            if k + ahead < index.shape[0]:
                prefetch_nb(values, index[k + ahead])
            total += values[index[k]]
        return total

    hint = re.compile(r"^\s*(prefetcht[0-2]|prefetchnta|prfm)\b", re.MULTILINE)  # x86-64 or ARM
    values = np.random.default_rng(0).standard_normal(100_000)
    index = np.random.default_rng(1).integers(0, values.size, 5_000)
    assert gather(values, index, 4) == gather(values, index, 10**9)  # never prefetching: the same bytes
    assert np.isclose(gather(values, index, 4), values[index].sum(), rtol=1e-12, atol=0.0)
    contiguous = gather.signatures[0]
    assert hint.search(gather.inspect_asm(contiguous))
    np.testing.assert_allclose(gather(values[::2], index // 2, 4), values[::2][index // 2].sum(), rtol=1e-12)
    strided = [sig for sig in gather.signatures if sig != contiguous][0]
    assert not hint.search(gather.inspect_asm(strided))


def test_stepping_allocates_nothing_through_numbas_runtime(market):
    """The step kernel runs without reference counting: anything it allocated would never be freed."""
    from numba.core.runtime import _nrt_python, rtsys

    vec = PortfolioVectorEnv(PREFETCH_AHEAD + 60, market=market, episode_days=35, costs=COSTS)
    vec.reset(seed=3)
    rng = np.random.default_rng(4)
    vec.step(rng.integers(0, 7, vec.num_envs))  # compiled before counting
    _nrt_python.memsys_enable_stats()
    try:
        before = rtsys.get_allocation_stats()
        for _ in range(30):  # autoresets included (5 decisions an episode)
            vec.step(rng.integers(0, 7, vec.num_envs))
        after = rtsys.get_allocation_stats()
    finally:
        _nrt_python.memsys_disable_stats()
    assert after.alloc - before.alloc == after.free - before.free
    assert after.mi_alloc - before.mi_alloc == after.mi_free - before.mi_free


def test_next_step_autoreset_rolls_the_same_episodes_a_step_later_and_takes_gymnasiums_wrappers(market):
    """Next-step mode: the same episodes as same-step mode (the same draws in the same order); a finished env
    returns its last observation, truncated, then its new episode's first with reward 0 and its action ignored.
    Gymnasium's NormalizeObservation (which refuses same-step mode) wraps it."""
    import gymnasium as gym

    same = PortfolioVectorEnv(5, market=market, episode_days=21, costs=COSTS)
    nxt = PortfolioVectorEnv(5, market=market, episode_days=21, costs=COSTS, autoreset_mode="NextStep")
    assert nxt.metadata["autoreset_mode"] == gym.vector.AutoresetMode.NEXT_STEP
    assert same.metadata["autoreset_mode"] == gym.vector.AutoresetMode.SAME_STEP
    o_same, _ = same.reset(seed=4)
    o_next, _ = nxt.reset(seed=4)
    np.testing.assert_array_equal(o_same, o_next)
    rng = np.random.default_rng(2)
    restarts = 0
    for _ in range(9):  # three decisions an episode: three episodes
        actions = rng.integers(0, 7, 5)
        o_same, r_same, _, d_same, i_same = same.step(actions)
        o_next, r_next, _, d_next, i_next = nxt.step(actions)
        np.testing.assert_array_equal(r_same, r_next)
        np.testing.assert_array_equal(d_same, d_next)
        if d_next.any():
            np.testing.assert_array_equal(o_next, i_same["final_obs"])  # the last observation, returned as such
            np.testing.assert_array_equal(i_next["value"], i_same["final_info"]["value"])
            o_next, r_next, _, d_next, i_next = nxt.step(rng.integers(0, 7, 5))  # actions ignored
            assert (r_next == 0).all() and not d_next.any()
            restarts += 1
        np.testing.assert_array_equal(o_same, o_next)  # then in step again: the new episodes' observations
        np.testing.assert_array_equal(i_same["value"], i_next["value"])
        np.testing.assert_array_equal(same.last_draws.starts, nxt.last_draws.starts)
    assert restarts == 3
    wrapped = gym.wrappers.vector.NormalizeObservation(PortfolioVectorEnv(4, market=market, episode_days=21,
                                                                          autoreset_mode="NextStep"))  # fmt: skip
    wrapped.reset(seed=0)
    for _ in range(4):
        obs, *_ = wrapped.step(np.zeros(4, dtype=np.int64))
    assert obs.shape == (4, 50) and np.isfinite(obs).all()
    with pytest.raises(ValueError, match="autoreset_mode: gymnasium.vector.AutoresetMode.SAME_STEP or NEXT_STEP"):
        PortfolioVectorEnv(2, market=market, autoreset_mode="Disabled")
