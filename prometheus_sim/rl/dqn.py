"""Double DQN on ``PortfolioEnv`` (CleanRL's shape: one Args dataclass, the loop top to bottom).

The network is the guide's (Linear(s, 256) ReLU LayerNorm, Linear(256, 256) ReLU LayerNorm,
Linear(256, 128) ReLU, Linear(128, 7)); Adam at 1e-3, gamma 0.9, replay 100,000, batch 64, MSE
loss, gradient clip 1.0, soft target updates with tau 0.005, as the guide fixes them. Three
departures, all stated: the target is Double DQN's (the online network picks the next action,
the target network values it); epsilon falls linearly from ``eps_start`` to ``eps_end`` over
``exploration_fraction`` of the run (the guide's x0.995 per update, from 0.1, suits one env, not
many: with 16 envs it would stop exploring within a few hundred decisions); and ``eps_start`` is
1.0, not the guide's 0.1 (a fresh network's greedy choice is one action for nearly every
observation, so the first decisions explore fully instead of 90 % of them being that one action).

Replay ratio: gradient updates per env step. By default one update every ``train_every`` vector
steps, i.e. 1 / (num_envs x train_every) (16 envs: 1/16); ``replay_ratio`` sets it directly (the
updates owed to the env steps so far are made after each vector step, so 1/64 with 16 envs is one
update every fourth vector step, and 1/8 two updates per vector step).

Environments: ``num_envs`` envs of the batched :class:`~prometheus_sim.rl.vector.PortfolioVectorEnv`
(``env_backend="numba"``: the same env as ``PortfolioEnv``, stepped in one Numba call on the host)
or of its torch twin :class:`~prometheus_sim.rl.vector_torch.TorchPortfolioVectorEnv`
(``"torch"``: on the training device, so env, replay buffer and network never leave it; float32 unless
``env_dtype="float64"``, with which a run repeats the Numba one exactly; the default on CUDA). Same-step autoreset: the real final observation of a truncated episode is
bootstrapped from, since truncation is not termination. Markets: each scenario simulated once with
one row per seed (the pool episodes draw paths from). The replay buffer is one preallocated float32
table on the training device (observation, next observation, action, reward, termination per row);
exploration and replay indices are drawn by a seeded torch generator on that device. Torch and
the Numba env run on ``cpu_threads`` threads (1 by default: the guide's net at batch 64 and a few
dozen envs gain little from a second thread, and on a busy machine OpenMP threads that spin-wait
for each other cost far more than they give: measured on this 2-core machine under load, a
16-env Numba step took 12 ms at 2 threads and 0.13 ms at 1, a gradient step 50-70 ms against 8 ms).
Metrics and the policy go to MLflow; the policy is registered as ``prometheus-dqn`` with its
metadata (observation layout, the crypto assets it featured, period, scenarios' digests, seeds), and
``checkpoints`` state dicts of the online network along the run are logged to its artifacts
(``checkpoints/step_<env steps>``). The last is registered, unless ``select_seeds`` names held-out seeds:
then each checkpoint is backtested on them and the one with the highest mean Sharpe is registered
(:mod:`prometheus_sim.rl.select` says why: the run's last network is often one that holds cash).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from prometheus_sim.devices import check_device
from prometheus_sim.redact import without_credentials
from prometheus_sim.registry import DQN_NAME
from prometheus_sim.rl.env import N_ACTIONS, OBSERVATION_VERSION, RECENT_FEATURES

ENV_BACKENDS = ("numba", "torch")
MAX_REPLAY_RATIO = 64.0  # gradient updates per env step; the guide's plain way makes 1, this project's runs 1/64


class QNetwork(nn.Module):
    """The guide's Q-network: state (obs_dim) -> one value per action (7)."""

    def __init__(self, obs_dim: int, n_actions: int = N_ACTIONS):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(obs_dim, 256), nn.ReLU(), nn.LayerNorm(256),
            nn.Linear(256, 256), nn.ReLU(), nn.LayerNorm(256),
            nn.Linear(256, 128), nn.ReLU(),
            nn.Linear(128, n_actions),
        )  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


@dataclass(frozen=True, kw_only=True)
class DQNArgs:
    """Everything one training run depends on (logged to MLflow as its parameters)."""

    scenarios: tuple[str, ...]
    """scenario files; each is simulated once with one row per seed"""
    seeds: tuple[int, ...]
    total_steps: int = 200_000
    """environment steps (decisions) over all envs"""
    num_envs: int = 16
    lr: float = 1e-3
    gamma: float = 0.9
    buffer_size: int = 100_000
    batch_size: int = 64
    tau: float = 0.005
    eps_start: float = 1.0
    eps_end: float = 0.01
    exploration_fraction: float = 0.3
    """share of the run over which epsilon falls linearly"""
    learning_starts: int = 1_000
    train_every: int = 1
    """one gradient update every this many vector steps (replay ratio 1 / (num_envs x train_every))"""
    replay_ratio: float | None = None
    """gradient updates per env step, instead of ``train_every`` (e.g. 1/64)"""
    period_days: int = 7
    episode_days: int = 182
    horizon_days: int | None = None
    device: str = "cpu"
    env_backend: str | None = None
    """"numba" (the host's batched env) or "torch" (its twin on ``device``); None: torch on CUDA, else numba"""
    env_dtype: str = "float32"
    """the torch twin's arithmetic: "float32" (what a GPU runs fast) or "float64" (the Numba env's, so a run on the
    twin repeats a Numba run: in float32 a greedy action near a tie can flip and the two runs part ways)"""
    cpu_threads: int | None = 1
    """threads torch and the Numba env use during the run (restored after); None leaves both as they are. Part of
    what a seed repeats: the same seed at 2 threads trains other weights than at 1 (torch's reductions split across
    threads round differently); the policy's metadata records the count (``torch_threads``)"""
    seed: int = 0
    checkpoints: int = 5
    """the online network's state dict is logged to the run's artifacts this many times, evenly spaced
    (``checkpoints/step_<env steps>``; the last is the registered policy's unless ``select_seeds``); 0 for none"""
    select_seeds: tuple[int, ...] = ()
    """held-out seeds of the training scenarios on which every checkpoint is backtested; the one with the
    highest mean Sharpe there is registered (:mod:`prometheus_sim.rl.select`); empty: the last"""
    tracking_uri: str | None = None
    register_as: str = DQN_NAME
    progress: bool = False
    leak_future: bool = False
    """TEST ONLY: the env appends the next period's returns (the learning-loop sanity check)"""
    forecaster: str | None = None
    """a registered forecaster (``name@version|latest|alias``) whose predictions and bands the observation adds
    (:mod:`prometheus_sim.rl.forecast_obs`); pinned to the version it resolves to. None: no forecast columns"""
    forecast_level: float | None = None
    """the calibrated band level of the forecast columns' band width (None: 0.8); only with ``forecaster``"""

    def __post_init__(self) -> None:
        # types first, as the Python API takes what it is given (review of 2026-12-04: checkpoints=1.5 and
        # cpu_threads=1.5 failed deep in training, num_envs=True ran one env, a bare scenario text was read letter by
        # letter, seeds=(0, 0) trained on one path twice)
        if isinstance(self.scenarios, str | Path) or not all(isinstance(s, str | Path) for s in self.scenarios):
            raise ValueError(f"scenarios: a tuple of scenario names or files, got {self.scenarios!r}")
        for name in ("total_steps", "num_envs", "buffer_size", "batch_size", "learning_starts", "train_every", "seed",
                     "checkpoints", "period_days", "episode_days", "cpu_threads", "horizon_days"):  # fmt: skip
            value = getattr(self, name)
            optional = name in ("cpu_threads", "horizon_days")
            if not (optional and value is None) and (
                isinstance(value, bool) or not isinstance(value, int | np.integer)
            ):
                at_least = " >= 1" if name in ("batch_size", "period_days", "episode_days") else ""
                raise ValueError(f"{name}: an integer{at_least}{' or None' if optional else ''}, got {value!r}")
            if isinstance(value, np.integer):  # accepted, and made a Python int: torch's manual_seed and MLflow's
                object.__setattr__(self, name, int(value))  # metrics refused NumPy's (review of 2026-12-05)
        if self.learning_starts < 0:
            raise ValueError(f"learning_starts: must be >= 0, got {self.learning_starts}")
        if self.replay_ratio is not None and (isinstance(self.replay_ratio, bool)
                                              or not isinstance(self.replay_ratio, int | float | np.number)):  # fmt: skip
            raise ValueError(
                f"replay_ratio: a number (gradient updates per env step) or None, got {self.replay_ratio!r}"
            )
        for name in ("seeds", "select_seeds"):  # select_seeds=900 was a TypeError, an array an ambiguous truth value
            if not isinstance(getattr(self, name), tuple | list):
                raise ValueError(f"{name}: a tuple of integers, got {getattr(self, name)!r}")
        bad = [s for s in self.seeds if isinstance(s, bool) or not isinstance(s, int | np.integer) or s < 0]
        if bad:
            raise ValueError(f"seeds: integers >= 0, got {bad[0]!r}")
        object.__setattr__(self, "seeds", tuple(int(s) for s in self.seeds))
        if self.replay_ratio is not None:
            object.__setattr__(self, "replay_ratio", float(self.replay_ratio))
        if len(set(self.seeds)) != len(self.seeds):
            raise ValueError("seeds: a seed is given twice (its paths would be trained on twice as often)")
        resolved = [str(Path(s).resolve()) if Path(s).exists() else s for s in self.scenarios]
        twice = sorted({s for s, r in zip(self.scenarios, resolved, strict=True) if resolved.count(r) > 1})
        if twice:  # trained twice as often, silently (a run named default+default)
            raise ValueError(f"scenarios: {twice} name one scenario more than once; give each once")
        if self.num_envs < 1:
            raise ValueError(f"num_envs: must be >= 1, got {self.num_envs}")
        if self.total_steps < self.num_envs:
            raise ValueError(f"total_steps: must be >= num_envs ({self.num_envs}), got {self.total_steps}")
        if self.checkpoints < 0:
            raise ValueError(f"checkpoints: must be >= 0, got {self.checkpoints}")
        if not 0 <= self.seed < 2**63:
            raise ValueError(f"seed: must be in 0..2**63 - 1 (it seeds NumPy, torch and the envs), got {self.seed}")
        trained = self.total_steps // self.num_envs * self.num_envs  # whole vector steps
        if self.learning_starts >= trained:
            raise ValueError(f"learning_starts: {self.learning_starts} is not below the {trained} env steps trained "
                             "(total_steps in whole vector steps): no gradient update would be made")  # fmt: skip
        if self.buffer_size < self.num_envs:  # one vector step's rows would overwrite each other on the wrap
            raise ValueError(f"buffer_size: {self.buffer_size} holds less than one vector step "
                             f"(num_envs {self.num_envs}): use at most {self.buffer_size} envs")  # fmt: skip
        for name, low, high, closed in (("lr", 0.0, 1.0, False), ("gamma", 0.0, 1.0, True), ("tau", 0.0, 1.0, False),
                                        ("eps_start", 0.0, 1.0, True), ("eps_end", 0.0, 1.0, True)):  # fmt: skip
            value = getattr(self, name)
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float | np.number)
                or not (low <= value <= high if closed else low < value <= high)
            ):
                span = f"[{low:g}, {high:g}]" if closed else f"({low:g}, {high:g}]"
                raise ValueError(f"{name}: a number in {span}, got {value!r}")
        if self.eps_end > self.eps_start:  # the schedule falls from eps_start to eps_end; rising, it explored more late
            raise ValueError(f"eps_end: {self.eps_end!r} is above eps_start ({self.eps_start!r}); epsilon falls "
                             f"from eps_start to eps_end over exploration_fraction of training")  # fmt: skip
        for name in ("batch_size", "period_days", "episode_days"):  # integers (checked first): at least 1
            value = getattr(self, name)
            if value < 1:
                raise ValueError(f"{name}: an integer >= 1, got {value!r}")
        if self.learning_starts > self.buffer_size:
            raise ValueError(f"learning_starts: {self.learning_starts} is more than the replay buffer holds "
                             f"(buffer_size {self.buffer_size}): no gradient update would be made")  # fmt: skip
        if self.select_seeds:
            bad = [s for s in self.select_seeds if isinstance(s, bool) or not isinstance(s, (int, np.integer))
                   or not 0 <= s < 2**64]  # fmt: skip
            if bad:
                raise ValueError(f"select_seeds: seeds are integers in [0, 2**64), got {bad[0]!r}")
            object.__setattr__(self, "select_seeds", tuple(int(s) for s in self.select_seeds))
            if len(set(self.select_seeds)) != len(self.select_seeds):
                raise ValueError("select_seeds: a seed is given twice (each path would count twice in the score)")
            if self.checkpoints < 1:
                raise ValueError("select_seeds: checkpoints are what is chosen from; checkpoints must be >= 1")
            shared = sorted(set(self.select_seeds) & set(self.seeds))
            if shared:
                raise ValueError(f"select_seeds: {shared[:5]} are also training seeds; validation needs seeds "
                                 "the policy never trained on")  # fmt: skip
        if self.checkpoints > trained // self.num_envs:
            raise ValueError(f"checkpoints: at most one per vector step ({trained // self.num_envs} in this run), "
                             f"got {self.checkpoints}")  # fmt: skip
        if self.tracking_uri is not None:
            from prometheus_sim.registry import check_store

            check_store(self.tracking_uri, "tracking_uri")
        if not self.scenarios or not self.seeds:
            raise ValueError("scenarios and seeds: at least one of each")
        if (
            isinstance(self.exploration_fraction, bool)
            or not isinstance(self.exploration_fraction, int | float | np.number)
            or not 0.0 < self.exploration_fraction <= 1.0
        ):  # fmt: skip (True ran as 1.0, "0.3" a TypeError)
            raise ValueError(f"exploration_fraction: a number in (0, 1], got {self.exploration_fraction!r}")
        # a name MLflow's registry refuses was found by log_model after the whole run (review of 2026-12-05, session 19)
        from prometheus_sim.registry import check_model_name

        check_model_name(self.register_as)
        if not isinstance(self.device, str):
            raise ValueError(f"device: 'cpu', 'cuda' or 'cuda:N', got {self.device!r}")
        if self.horizon_days is not None and self.horizon_days < 2:
            raise ValueError(f"horizon_days: an integer >= 2 or None, got {self.horizon_days}")
        if self.batch_size > self.buffer_size:  # 10**9 would have allocated for it
            raise ValueError(f"batch_size: {self.batch_size} is more than the replay buffer holds ({self.buffer_size})")
        if self.train_every < 1:
            raise ValueError(f"train_every: must be >= 1, got {self.train_every}")
        if self.replay_ratio is not None:
            if not 0.0 < self.replay_ratio <= MAX_REPLAY_RATIO:  # 1e308 overflowed in updates_due; 1e6 ran for ever
                raise ValueError(f"replay_ratio: gradient updates per env step, must be in (0, {MAX_REPLAY_RATIO:g}] "
                                 f"(the guide's way is 1), got {self.replay_ratio}")  # fmt: skip
            if self.train_every != 1:
                raise ValueError("replay_ratio and train_every: give one of them, not both")
        if self.env_backend is not None and self.env_backend not in ENV_BACKENDS:
            raise ValueError(f"env_backend: {' or '.join(ENV_BACKENDS)}, got {self.env_backend!r}")
        if self.env_dtype not in ("float32", "float64"):
            raise ValueError(f"env_dtype: float32 or float64, got {self.env_dtype!r}")
        if self.env_dtype != "float32" and self.backend != "torch":
            raise ValueError(
                f"env_dtype: sets the torch twin's arithmetic; this run steps the Numba env "
                f"(float64 always), so {self.env_dtype!r} would change nothing: give env_backend='torch' (--env-backend torch)"
            )
        if self.forecaster is not None and (not isinstance(self.forecaster, str) or not self.forecaster.strip()):
            raise ValueError(f"forecaster: a registered forecaster's reference (name@version), got {self.forecaster!r}")
        if self.forecaster is None and self.forecast_level is not None:  # it would change nothing
            raise ValueError(f"forecast_level: sets the forecast columns' band, and no forecaster is given "
                             f"(forecast_level={self.forecast_level!r})")  # fmt: skip
        if self.cpu_threads is not None and self.cpu_threads < 1:
            raise ValueError(f"cpu_threads: must be >= 1 or None, got {self.cpu_threads}")
        if self.expected_updates() == 0:  # found only after the whole run and its checkpoint uploads
            raise ValueError(f"replay ratio {self.updates_per_env_step:g} makes no gradient update in the "
                             f"{trained} env steps trained after learning_starts {self.learning_starts}: raise it, "
                             "or train longer")  # fmt: skip

    def expected_updates(self) -> int:
        """Gradient updates the run will make: those owed by the replay ratio once the buffer holds
        ``learning_starts`` transitions (the training loop's own count; none are owed for the steps before)."""
        ratio, n = self.updates_per_env_step, self.num_envs
        n_iters = self.total_steps // n
        first = max(0, -(-self.learning_starts // n) - 1)  # the first vector step after which learning may start

        return max(0, updates_due(ratio, n_iters - 1, n) - updates_due(ratio, first - 1, n)) if first < n_iters else 0

    @property
    def updates_per_env_step(self) -> float:
        """The replay ratio this run trains at."""
        return self.replay_ratio if self.replay_ratio is not None else 1.0 / (self.num_envs * self.train_every)

    @property
    def backend(self) -> str:
        """The env backend this run uses (``env_backend``, or its default for ``device``)."""
        return self.env_backend or ("torch" if self.device.startswith("cuda") else "numba")


def updates_due(ratio: float, it: int, num_envs: int) -> int:
    """Gradient updates owed by the replay ratio after vector step ``it`` (0 before the first): the training loop
    makes the difference at each step once learning has started, and :meth:`DQNArgs.expected_updates` sums it."""
    return int(ratio * (it + 1) * num_envs + 1e-9) if it >= 0 else 0


@dataclass
class DQNResult:
    model: QNetwork
    meta: dict
    history: list[dict]
    name: str
    version: str
    run_id: str


def featured_assets(pools) -> dict[str, list[str]]:
    """Per training scenario, the crypto assets the observation featured (``DQNStrategy`` checks a market against them)."""
    from prometheus_sim.portfolio import AssetBook
    from prometheus_sim.rl.env import featured_names

    return {spec.name: list(featured_names(AssetBook.from_kinds(m.assets, m.asset_kinds, m.asset_sizes)))
            for spec, m in pools}  # fmt: skip


def make_envs(args: DQNArgs):
    """The vector env: ``num_envs`` envs over the scenarios' market pools, batched in Numba, same-step autoreset."""
    from prometheus_sim.market import Market
    from prometheus_sim.rl.vector import PooledVectorEnv, PortfolioVectorEnv
    from prometheus_sim.scenario import load_scenario

    forecast = None
    if args.forecaster is not None:  # loaded once, pinned, and checked against every seed the run will touch
        from dataclasses import replace

        from prometheus_sim.rl.forecast_obs import ForecastInputs

        # on the training device: the pool's table is a network pass per (path, day, featured asset)
        forecast = ForecastInputs.load(args.forecaster, args.forecast_level, args.tracking_uri, args.device)
        forecast = replace(forecast, progress=args.progress)
        forecast.refuse_seen("seeds", args.seeds)
        forecast.refuse_seen("select_seeds", args.select_seeds)
    pools = []
    for path in args.scenarios:
        spec = load_scenario(path)
        if "stable" not in spec.asset_kinds:  # refused before the others simulate, naming the scenario (review)
            raise ValueError(f"scenarios: {path} has no stablecoin, and a portfolio needs one to hold cash in")
        if args.horizon_days is not None:
            spec = spec.with_horizon(args.horizon_days)
        pools.append((spec, Market.simulate(spec, seeds=args.seeds)))
    counts = PooledVectorEnv.split(args.num_envs, len(pools))
    parts = [PortfolioVectorEnv(n, market=market, period_days=args.period_days, episode_days=args.episode_days,
                                leak_future=args.leak_future, forecaster=forecast)
             for n, (_, market) in zip(counts, pools, strict=True)]  # fmt: skip
    return (parts[0] if len(parts) == 1 else PooledVectorEnv(parts)), pools


class HostEnvs:
    """The Numba vector env seen as tensors on ``device``: what the loop needs of a step, nothing else."""

    def __init__(self, envs, device: str):
        self.envs, self.device = envs, torch.device(device)

    def reset(self, seed: int) -> torch.Tensor:
        return torch.from_numpy(self.envs.reset(seed=seed)[0]).to(self.device)

    def step(self, actions: torch.Tensor):
        """(next obs, real next obs (a truncated episode's last), reward, terminated, done) as tensors."""
        obs, rew, term, trunc, infos = self.envs.step(actions.cpu().numpy())
        done = term | trunc
        real_next = np.where(done[:, None], infos["final_obs"], obs) if done.any() else obs
        to = lambda a: torch.from_numpy(a).to(self.device)  # noqa: E731
        return to(obs), to(real_next), to(rew.astype(np.float32)), to(term), to(done)

    def close(self) -> None:
        self.envs.close()


class DeviceEnvs:
    """The torch twins (one per market pool, envs split as ``PooledVectorEnv`` splits them) on ``device``."""

    def __init__(self, envs, device: str, dtype: torch.dtype = torch.float32):
        from prometheus_sim.rl.vector_torch import TorchPortfolioVectorEnv

        parts = getattr(envs, "parts", [envs])
        self.parts = [TorchPortfolioVectorEnv(p.num_envs, p.pool, device=device, dtype=dtype) for p in parts]
        self.bounds = np.cumsum([0] + [p.num_envs for p in parts]).tolist()

    def reset(self, seed: int) -> torch.Tensor:
        from prometheus_sim.rl.vector import part_seeds

        seeds = part_seeds(seed, len(self.parts))  # PooledVectorEnv's
        return torch.cat([p.reset(seed=s) for s, p in zip(seeds, self.parts, strict=True)]).float()

    def step(self, actions: torch.Tensor):
        outs = [p.step(actions[a:b]) for p, a, b in zip(self.parts, self.bounds[:-1], self.bounds[1:], strict=True)]
        obs, rew, done = (torch.cat([o[k] for o in outs]) for k in range(3))
        real_next = torch.cat([o[3]["final_obs"] for o in outs])  # the pre-reset observation of every env
        # episodes end by truncation only; the network and the replay buffer take float32 whatever the env's arithmetic
        return obs.float(), real_next.float(), rew.float(), torch.zeros_like(done), done

    def close(self) -> None:
        pass


def train_dqn(args: DQNArgs, wiring=None) -> DQNResult:
    """Train, log and register the policy (see the module docstring).

    ``wiring`` (a :class:`~prometheus_sim.rl.select.PolicyWiring`) is needed when ``args.select_seeds``
    asks for the checkpoints to be scored: the strategy and venue it builds are not the core's to import.
    """
    import numba

    device = check_device(args.device)
    if args.select_seeds and wiring is None:
        raise ValueError("select_seeds: scoring checkpoints needs a PolicyWiring (the CLI hands one in)")
    threads = torch.get_num_threads(), numba.get_num_threads()
    if args.cpu_threads is not None:
        torch.set_num_threads(args.cpu_threads)
        numba.set_num_threads(min(args.cpu_threads, numba.config.NUMBA_NUM_THREADS))
    try:
        return _train(args, device, wiring)
    finally:
        torch.set_num_threads(threads[0])
        numba.set_num_threads(threads[1])


def _train(args: DQNArgs, device: str, wiring) -> DQNResult:
    import mlflow
    import mlflow.pytorch
    from tqdm import tqdm

    from prometheus_sim import registry

    torch.manual_seed(args.seed)
    gen = torch.Generator(device=device).manual_seed(args.seed)  # exploration and replay draws
    numba_envs, pools = make_envs(args)
    envs = (DeviceEnvs(numba_envs, device, getattr(torch, args.env_dtype)) if args.backend == "torch"
            else HostEnvs(numba_envs, device))  # fmt: skip
    obs_dim = numba_envs.single_observation_space.shape[0]
    q = QNetwork(obs_dim).to(device)
    target = QNetwork(obs_dim).to(device)
    target.load_state_dict(q.state_dict())
    q_params, target_params = list(q.parameters()), list(target.parameters())
    opt = torch.optim.Adam(q_params, lr=args.lr, fused=True)
    # the replay buffer: one float32 row per transition, [obs | next obs | action | reward | terminated]
    n, num_envs = args.buffer_size, args.num_envs
    buf = torch.zeros((n, 2 * obs_dim + 3), device=device)
    OBS, NEXT, ACT, REW, TERM = slice(0, obs_dim), slice(obs_dim, 2 * obs_dim), 2 * obs_dim, 2 * obs_dim + 1, -1
    slots = torch.arange(num_envs, device=device)
    size, ptr = 0, 0

    uri = registry.configure(args.tracking_uri)
    registry.check_name_kind(args.register_as, DQN_NAME, uri)
    exp_id = registry.experiment(DQN_NAME, uri)
    run_name = f"{'+'.join(spec.name for spec, _ in pools)}__dqn__{args.seed}"
    history: list[dict] = []
    episode_returns: list[float] = []
    running = torch.zeros(num_envs, dtype=torch.float64, device=device)
    action_counts = torch.zeros(N_ACTIONS, dtype=torch.long, device=device)
    greedy_counts = torch.zeros(N_ACTIONS, dtype=torch.long, device=device)
    obs = envs.reset(seed=args.seed)
    n_iters = args.total_steps // num_envs
    late = n_iters - max(1, n_iters // 10)  # the last tenth: the network's own choices near its final weights
    explore_iters = max(1, int(args.exploration_fraction * n_iters))
    saves = {n_iters * (k + 1) // args.checkpoints - 1 for k in range(args.checkpoints)} if args.checkpoints else set()
    ratio = args.updates_per_env_step
    owed, updates = 0, 0  # gradient updates owed to the env steps so far (the replay ratio), and made
    loss = torch.tensor(float("nan"))
    kept: list[tuple[int, dict]] = []  # (env steps, state dict on the CPU) of each checkpoint, to choose from
    with mlflow.start_run(experiment_id=exp_id, run_name=run_name) as run:
        mlflow.log_params({k: (_param_text(v) if isinstance(v, tuple) or v is None else v)
                           for k, v in without_credentials(asdict(args)).items() if k != "progress"})  # fmt: skip
        mlflow.log_params({"updates_per_env_step": ratio, "backend": args.backend})
        started = time.perf_counter()  # the training loop's rates count the loop, not the run's set-up
        bar = tqdm(range(n_iters), desc="dqn", unit="step", unit_scale=num_envs, disable=not args.progress)
        for it in bar:
            eps = args.eps_start + (args.eps_end - args.eps_start) * min(1.0, it / explore_iters)
            with torch.no_grad():
                greedy = q(obs).argmax(dim=1)
            explore = torch.rand(num_envs, generator=gen, device=device) < eps
            actions = torch.where(explore, torch.randint(0, N_ACTIONS, (num_envs,), generator=gen, device=device),
                                  greedy)  # fmt: skip
            action_counts += torch.bincount(actions, minlength=N_ACTIONS)
            if it >= late:  # exploration's random actions left out: what the network itself would do
                greedy_counts += torch.bincount(greedy, minlength=N_ACTIONS)
            next_obs, real_next, rewards, terms, dones = envs.step(actions)
            k = slice(ptr, ptr + num_envs) if ptr + num_envs <= n else (ptr + slots) % n
            buf[k] = torch.cat([obs, real_next, actions[:, None].float(), rewards[:, None], terms[:, None].float()], 1)
            ptr, size = (ptr + num_envs) % n, min(size + num_envs, n)
            running += rewards
            if dones.any():
                episode_returns.extend(running[dones].tolist())
                running[dones] = 0.0
            obs = next_obs
            due = updates_due(ratio, it, num_envs)
            for _ in range(due - owed if size >= args.learning_starts else 0):
                batch = buf[torch.randint(0, size, (args.batch_size,), generator=gen, device=device)]
                with torch.no_grad():
                    best = q(batch[:, NEXT]).argmax(dim=1, keepdim=True)  # Double DQN: online picks,
                    value = target(batch[:, NEXT]).gather(1, best).squeeze(1)  # target values
                    y = batch[:, REW] + args.gamma * value * (1.0 - batch[:, TERM])  # truncation bootstraps
                pred = q(batch[:, OBS]).gather(1, batch[:, ACT].long().unsqueeze(1)).squeeze(1)
                loss = nn.functional.mse_loss(pred, y)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                nn.utils.clip_grad_norm_(q_params, 1.0, foreach=True)
                opt.step()
                with torch.no_grad():
                    torch._foreach_lerp_(target_params, q_params, args.tau)
                updates += 1
            owed = due
            if (it + 1) % max(1, n_iters // 20) == 0 or it == n_iters - 1:
                recent = float(np.mean(episode_returns[-50:])) if episode_returns else float("nan")
                elapsed = time.perf_counter() - started
                row = {"step": (it + 1) * num_envs, "episode_return": recent, "loss": loss.item(), "epsilon": eps,
                       "updates": updates, "steps_per_s": (it + 1) * num_envs / elapsed,
                       "updates_per_s": updates / elapsed}  # fmt: skip
                history.append(row)
                mlflow.log_metrics({k: v for k, v in row.items() if k != "step" and np.isfinite(v)}, step=row["step"])
                bar.set_postfix(ret=f"{recent:.2f}", eps=f"{eps:.2f}")
            if it in saves:  # load one with QNetwork(obs_dim).load_state_dict(mlflow.pytorch.load_state_dict(uri))
                # on the CPU, .cpu() is the live tensor: the copy keeps this checkpoint's weights for the selection
                state = {k: v.detach().cpu().clone() for k, v in q.state_dict().items()}  # loads on any machine
                mlflow.pytorch.log_state_dict(state, f"checkpoints/step_{(it + 1) * num_envs:010d}")
                if updates > 0:  # a checkpoint before the first update is the initial network: no candidate
                    kept.append(((it + 1) * num_envs, state))
        envs.close()
        if updates == 0:  # an untrained network must not become the latest registered policy
            raise ValueError(f"no gradient update was made in {n_iters * num_envs} env steps (replay ratio {ratio:g}, "
                             f"learning_starts {args.learning_starts}): nothing registered")  # fmt: skip
        if not all(bool(torch.isfinite(p).all()) for p in q_params):  # nor a diverged one
            raise ValueError(f"training diverged: the network's weights are not finite (last loss {loss.item():g}); "
                             "nothing registered (lower lr, or check the scenario's rewards)")  # fmt: skip
        counts = action_counts.cpu().numpy()
        share = counts / counts.sum()
        greedy_share = greedy_counts.cpu().numpy() / max(1, int(greedy_counts.sum()))
        meta = {
            "kind": DQN_NAME, "obs_dim": obs_dim, "period_days": args.period_days, "episode_days": args.episode_days,
            "recent_features": list(RECENT_FEATURES), "featured_assets": featured_assets(pools),
            "observation_version": OBSERVATION_VERSION, **_forecast_record(numba_envs),
            "scenario_digests": {s.name: s.digest() for s, _ in pools},
            "scenario_specs": {s.name: s.model_dump(mode="json") for s, _ in pools},  # in full: rl.provenance
            "calibrated_to": {s.name: s.calibrated_to and [str(s.calibrated_to.start), str(s.calibrated_to.end)]
                              for s, _ in pools},  # the real days each training market was set to match
            "seeds": [int(s) for s in args.seeds], "training_action_share": share.tolist(),
            "greedy_action_share": greedy_share.tolist(),  # the last tenth's greedy choices: collapse shows here
            "updates_per_env_step": ratio, "env_backend": args.backend, "torch_threads": torch.get_num_threads(),
            "args": {k: (list(v) if isinstance(v, tuple) else v) for k, v in without_credentials(asdict(args)).items()},
        }  # fmt: skip
        model = q.cpu().eval()
        model.meta = meta
        # the action shares above are the last network's; with selection the registered network may be an earlier
        # checkpoint, whose own shares (on the validation paths) are in meta["selection"] (review of 2026-12-05)
        meta["action_shares_of_step"] = meta["registered_step"] = int(history[-1]["step"]) if history else 0
        if args.select_seeds:
            meta["selection"] = _choose_checkpoint(args, model, kept, wiring)
            meta["registered_step"] = meta["selection"]["chosen_step"]
        mlflow.log_dict(meta, "dqn.json")
        info = mlflow.pytorch.log_model(model, name="model", serialization_format="pickle",
                                        pip_requirements=[f"torch=={torch.__version__.split('+')[0]}"],
                                        registered_model_name=args.register_as)  # fmt: skip
        registry.tag_kind(args.register_as, DQN_NAME, uri)
    return DQNResult(model, meta, history, args.register_as, str(info.registered_model_version), run.info.run_id)


def _forecast_record(envs) -> dict:
    """The policy metadata's ``forecast`` entry (:meth:`ForecastInputs.record`) when the envs observe forecasts."""
    parts = getattr(envs, "parts", [envs])
    forecast = parts[0].pool.template.forecast
    return {"forecast": forecast.record()} if forecast is not None else {}


def _param_text(value) -> str:
    """A run parameter as MLflow keeps it (at most 6,000 characters, cut silently beyond): a tuple of integers as
    runs (``0-63,900``), so 800 seeds fit; anything else as ``str``. The full lists are in ``dqn.json``."""
    if isinstance(value, tuple) and value and all(isinstance(v, (int, np.integer)) for v in value):
        runs, start, prev = [], int(value[0]), int(value[0])
        for v in map(int, value[1:]):
            if v != prev + 1:
                runs.append(f"{start}-{prev}" if prev > start else str(start))
                start = v
            prev = v
        runs.append(f"{start}-{prev}" if prev > start else str(start))
        return ",".join(runs)
    return str(value)


def _choose_checkpoint(args: DQNArgs, model: QNetwork, kept: list[tuple[int, dict]], wiring) -> dict:
    """Load the best checkpoint on ``args.select_seeds`` into ``model``; log every score; return the record."""
    import mlflow

    from prometheus_sim.portfolio import CostModel
    from prometheus_sim.rl.select import select_checkpoint

    def network(state: dict) -> QNetwork:
        net = QNetwork(model.meta["obs_dim"])
        net.load_state_dict(state)
        net.meta = model.meta
        return net.eval()

    networks = [(step, network(state)) for step, state in kept]
    costs = CostModel()  # the costs the envs train with (make_envs gives them none)
    selection = select_checkpoint(networks, args.scenarios, args.select_seeds, wiring, costs, args.horizon_days)
    for score in selection.scores:
        if np.isfinite(score.sharpe):
            mlflow.log_metric("validation_sharpe", score.sharpe, step=score.step)
    model.load_state_dict(kept[selection.chosen][1])
    mlflow.set_tag("chosen_checkpoint", f"checkpoints/step_{selection.best.step:010d}")
    return selection.as_meta()


__all__ = [
    "DQNArgs",
    "DQNResult",
    "DQN_NAME",
    "ENV_BACKENDS",
    "QNetwork",
    "check_device",
    "make_envs",
    "train_dqn",
    "updates_due",
]
