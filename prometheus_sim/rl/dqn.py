"""Double DQN on ``PortfolioEnv`` (CleanRL's shape: one Args dataclass, the loop top to bottom).

The network is the guide's (Linear(s, 256) ReLU LayerNorm, Linear(256, 256) ReLU LayerNorm,
Linear(256, 128) ReLU, Linear(128, 7)); Adam at 1e-3, gamma 0.9, replay 100,000, batch 64, MSE
loss, gradient clip 1.0, soft target updates with tau 0.005, as the guide fixes them. Two
departures, both stated: the target is Double DQN's (the online network picks the next action,
the target network values it), and epsilon falls linearly from ``eps_start`` to ``eps_end`` over
``exploration_fraction`` of the run (the guide's x0.995 per update, from 0.1, suits one env, not
many: with 16 envs it would stop exploring within a few hundred decisions).

Environments: ``num_envs`` envs of the batched :class:`~prometheus_sim.rl.vector.PortfolioVectorEnv`
(the same env as ``PortfolioEnv``, stepped in one Numba call; same-step autoreset: the real final
observation of a truncated episode is bootstrapped from, since truncation is not termination). Markets: each scenario simulated once with one row per seed (the pool episodes draw
paths from). The replay buffer is preallocated on the training device. Metrics and the policy go to
MLflow; the policy is registered as ``prometheus-dqn`` with its metadata (observation layout,
period, scenarios' digests, seeds).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

from prometheus_sim.rl.env import N_ACTIONS, RECENT_FEATURES

DQN_NAME = "prometheus-dqn"


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
    """gradient steps happen every this many vector steps"""
    period_days: int = 7
    episode_days: int = 182
    horizon_days: int | None = None
    device: str = "cpu"
    seed: int = 0
    tracking_uri: str | None = None
    register_as: str = DQN_NAME
    progress: bool = False
    leak_future: bool = False
    """TEST ONLY: the env appends the next period's returns (the learning-loop sanity check)"""

    def __post_init__(self) -> None:
        if self.num_envs < 1:
            raise ValueError(f"num_envs: must be >= 1, got {self.num_envs}")
        if self.total_steps < self.num_envs:
            raise ValueError(f"total_steps: must be >= num_envs ({self.num_envs}), got {self.total_steps}")
        if not self.scenarios or not self.seeds:
            raise ValueError("scenarios and seeds: at least one of each")
        if not 0.0 < self.exploration_fraction <= 1.0:
            raise ValueError(f"exploration_fraction: must be in (0, 1], got {self.exploration_fraction}")


@dataclass
class DQNResult:
    model: QNetwork
    meta: dict
    history: list[dict]
    name: str
    version: str
    run_id: str


def check_device(device: str) -> str:
    """The device, or a clear error when it is not on this machine (not a crash deep in torch)."""
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"--device {device}: no CUDA device on this machine (torch sees none); use --device cpu")
    if device not in ("cpu",) and not device.startswith("cuda"):
        raise ValueError(f"--device {device!r}: cpu or cuda[:n]")
    return device


def make_envs(args: DQNArgs):
    """The vector env: ``num_envs`` envs over the scenarios' market pools, batched in Numba, same-step autoreset."""
    from prometheus_sim.market import Market
    from prometheus_sim.rl.vector import PooledVectorEnv, PortfolioVectorEnv
    from prometheus_sim.scenario import load_scenario

    pools = []
    for path in args.scenarios:
        spec = load_scenario(path)
        if args.horizon_days is not None:
            spec = spec.with_horizon(args.horizon_days)
        pools.append((spec, Market.simulate(spec, seeds=args.seeds)))
    counts = PooledVectorEnv.split(args.num_envs, len(pools))
    parts = [PortfolioVectorEnv(n, market=market, period_days=args.period_days, episode_days=args.episode_days,
                                leak_future=args.leak_future) for n, (_, market) in zip(counts, pools, strict=True)]  # fmt: skip
    return (parts[0] if len(parts) == 1 else PooledVectorEnv(parts)), pools


def train_dqn(args: DQNArgs) -> DQNResult:
    """Train, log and register the policy (see the module docstring)."""
    import mlflow
    import mlflow.pytorch
    from tqdm import tqdm

    from prometheus_sim import registry

    device = check_device(args.device)
    rng = np.random.default_rng(args.seed)
    torch.manual_seed(args.seed)
    envs, pools = make_envs(args)
    obs_dim = envs.single_observation_space.shape[0]
    q = QNetwork(obs_dim).to(device)
    target = QNetwork(obs_dim).to(device)
    target.load_state_dict(q.state_dict())
    opt = torch.optim.Adam(q.parameters(), lr=args.lr)
    n = args.buffer_size
    buf = {"obs": torch.zeros((n, obs_dim), device=device), "next": torch.zeros((n, obs_dim), device=device),
           "act": torch.zeros(n, dtype=torch.long, device=device), "rew": torch.zeros(n, device=device),
           "done": torch.zeros(n, device=device)}  # fmt: skip
    size, ptr = 0, 0

    uri = registry.configure(args.tracking_uri)
    exp_id = registry.experiment(DQN_NAME, uri)
    run_name = f"{'+'.join(spec.name for spec, _ in pools)}__dqn__{args.seed}"
    history: list[dict] = []
    episode_returns: list[float] = []
    running = np.zeros(args.num_envs)
    action_counts = np.zeros(N_ACTIONS, dtype=np.int64)
    obs, _ = envs.reset(seed=args.seed)
    n_iters = args.total_steps // args.num_envs
    explore_iters = max(1, int(args.exploration_fraction * n_iters))
    started = time.perf_counter()
    loss_value = float("nan")
    with mlflow.start_run(experiment_id=exp_id, run_name=run_name) as run:
        mlflow.log_params({k: (str(v) if isinstance(v, tuple) or v is None else v)
                           for k, v in asdict(args).items() if k != "progress"})  # fmt: skip
        bar = tqdm(range(n_iters), desc="dqn", unit="step", unit_scale=args.num_envs, disable=not args.progress)
        for it in bar:
            eps = args.eps_start + (args.eps_end - args.eps_start) * min(1.0, it / explore_iters)
            with torch.no_grad():
                greedy = q(torch.as_tensor(obs, device=device)).argmax(dim=1).cpu().numpy()
            explore = rng.random(args.num_envs) < eps
            actions = np.where(explore, rng.integers(0, N_ACTIONS, args.num_envs), greedy)
            action_counts += np.bincount(actions, minlength=N_ACTIONS)
            next_obs, rewards, terms, truncs, infos = envs.step(actions)
            done = terms | truncs
            real_next = next_obs.copy()
            for i in np.flatnonzero(done):
                real_next[i] = infos["final_obs"][i]
            k = (ptr + np.arange(args.num_envs)) % n
            buf["obs"][k] = torch.as_tensor(obs, device=device)
            buf["next"][k] = torch.as_tensor(real_next, device=device)
            buf["act"][k] = torch.as_tensor(actions, device=device)
            buf["rew"][k] = torch.as_tensor(rewards, dtype=torch.float32, device=device)
            buf["done"][k] = torch.as_tensor(terms, dtype=torch.float32, device=device)  # truncation bootstraps
            ptr, size = (ptr + args.num_envs) % n, min(size + args.num_envs, n)
            running += rewards
            for i in np.flatnonzero(done):
                episode_returns.append(float(running[i]))
                running[i] = 0.0
            obs = next_obs
            if size >= args.learning_starts and it % args.train_every == 0:
                idx = torch.as_tensor(rng.integers(0, size, args.batch_size), device=device)
                with torch.no_grad():
                    best = q(buf["next"][idx]).argmax(dim=1, keepdim=True)  # Double DQN: online picks,
                    value = target(buf["next"][idx]).gather(1, best).squeeze(1)  # target values
                    y = buf["rew"][idx] + args.gamma * value * (1.0 - buf["done"][idx])
                pred = q(buf["obs"][idx]).gather(1, buf["act"][idx].unsqueeze(1)).squeeze(1)
                loss = nn.functional.mse_loss(pred, y)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                nn.utils.clip_grad_norm_(q.parameters(), 1.0)
                opt.step()
                with torch.no_grad():
                    for tp, p in zip(target.parameters(), q.parameters(), strict=True):
                        tp.lerp_(p, args.tau)
                loss_value = loss.item()
            if (it + 1) % max(1, n_iters // 20) == 0 or it == n_iters - 1:
                recent = float(np.mean(episode_returns[-50:])) if episode_returns else float("nan")
                row = {"step": (it + 1) * args.num_envs, "episode_return": recent, "loss": loss_value, "epsilon": eps,
                       "steps_per_s": (it + 1) * args.num_envs / (time.perf_counter() - started)}  # fmt: skip
                history.append(row)
                mlflow.log_metrics({k: v for k, v in row.items() if k != "step" and np.isfinite(v)}, step=row["step"])
                bar.set_postfix(ret=f"{recent:.2f}", eps=f"{eps:.2f}")
        envs.close()
        share = action_counts / action_counts.sum()
        meta = {
            "kind": DQN_NAME, "obs_dim": obs_dim, "period_days": args.period_days, "episode_days": args.episode_days,
            "recent_features": list(RECENT_FEATURES), "scenario_digests": {s.name: s.digest() for s, _ in pools},
            "seeds": [int(s) for s in args.seeds], "training_action_share": share.tolist(),
            "args": {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(args).items()},
        }  # fmt: skip
        model = q.cpu().eval()
        model.meta = meta
        mlflow.log_dict(meta, "dqn.json")
        info = mlflow.pytorch.log_model(model, name="model", serialization_format="pickle",
                                        pip_requirements=["torch==2.13.0"], registered_model_name=args.register_as)  # fmt: skip
    return DQNResult(model, meta, history, args.register_as, str(info.registered_model_version), run.info.run_id)


__all__ = ["DQNArgs", "DQNResult", "DQN_NAME", "QNetwork", "check_device", "make_envs", "train_dqn"]
