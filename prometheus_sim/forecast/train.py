"""Train the forecaster on simulated markets and register it in MLflow (``prometheus-sim forecast train``).

One :class:`TrainArgs` holds every setting (CleanRL's shape): the run reads top to bottom in
:func:`train`. Markets: each scenario simulated once per seed (one row per seed); features per
:mod:`prometheus_sim.features`; windows, scaler and splits per :mod:`prometheus_sim.forecast.data`.
Optimisation as the guide says: AdamW, OneCycleLR over epochs x batches, MSE on scaled log returns,
gradient-norm clip 1.0, the best checkpoint by validation loss (early stopping after ``patience``
epochs without improvement). The confidence head is trained beside it (binary cross-entropy) to
give the probability that the realised return lands within +/- 0.6745 training sd of the
prediction (the central half of a normal). After training, split-conformal quantiles of the
absolute error, in units of the window's own volatility (:meth:`WindowSource.band_scale`), on the
calibration split give the 50, 80, 90 and 95 % bands per asset and horizon.

Logged per epoch: train_loss, val_loss, mae (in % of the last close, over all horizons), mape
(at the last horizon), rmse (of log returns). The model is logged with its ``meta`` (features,
window, scaler, conformal quantiles, assets, scenario digests, seeds, split) and registered as
``prometheus-forecaster``.
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from prometheus_sim.features import FeatureConfig, compute_features
from prometheus_sim.forecast.data import Scaler, SplitPlan, Windows, WindowSource
from prometheus_sim.redact import without_credentials
from prometheus_sim.registry import FORECASTER_NAME

CONFIDENCE_RADIUS = 0.6745  # in training-target sd: the head's event is |error| <= this
BAND_LEVELS = (0.5, 0.8, 0.9, 0.95)


@dataclass(frozen=True, kw_only=True)
class TrainArgs:
    """Everything one training run depends on (logged to MLflow as its parameters)."""

    scenarios: tuple[str, ...]
    """scenario files (or shipped names resolved by the CLI) to simulate"""
    seeds: tuple[int, ...]
    """one market row per seed; a quarter of them are held out (validation, calibration)"""
    epochs: int = 20
    batch_size: int = 256
    lr: float = 1e-3
    """the OneCycle schedule's peak learning rate"""
    weight_decay: float = 1e-4
    hidden_dim: int = 256
    lstm_layers: int = 2
    transformer_layers: int = 4
    nhead: int = 8
    dropout: float = 0.1
    window: int = 30
    horizon: int = 7
    stride: int = 1
    """days between the ends of consecutive training windows of a path"""
    max_windows_per_epoch: int | None = None
    """a random subset of training windows per epoch (None: all)"""
    patience: int = 5
    split_frac: float = 0.7
    """the share of each market's days before the split day (training targets end before it)"""
    horizon_days: int | None = None
    """override every scenario's horizon"""
    assets: tuple[str, ...] | None = None
    """assets whose windows are trained on (default: the crypto assets)"""
    features: FeatureConfig = field(default_factory=FeatureConfig)
    device: str = "cpu"
    seed: int = 0
    tracking_uri: str | None = None
    register_as: str = FORECASTER_NAME
    progress: bool = False
    cpu_threads: int | None = 1
    """threads torch uses during the run (restored after; None leaves torch's own count, the machine's cores). Part of
    what a seed repeats: torch's reductions split across threads round differently, so the same seed trained other
    weights at 2 threads than at 1, and a default of the machine's cores made a run depend on the machine's size;
    the model's metadata records the count (``torch_threads``), as the DQN's does"""

    def __post_init__(self) -> None:
        from prometheus_sim.devices import check_device
        from prometheus_sim.registry import check_model_name

        if self.cpu_threads is not None and (
            isinstance(self.cpu_threads, bool) or not isinstance(self.cpu_threads, int) or self.cpu_threads < 1
        ):
            raise ValueError(f"cpu_threads: an integer >= 1 or None, got {self.cpu_threads!r}")
        check_device(self.device)
        check_model_name(self.register_as)  # refused before training, not by log_model after it
        for name in ("epochs", "batch_size", "hidden_dim", "window", "horizon", "stride", "patience"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}: must be >= 1, got {getattr(self, name)}")
        if not 0.2 <= self.split_frac <= 0.9:
            raise ValueError(f"split_frac: must be in [0.2, 0.9], got {self.split_frac}")
        if not self.scenarios or not self.seeds:
            raise ValueError("scenarios and seeds: at least one of each")
        # what NumPy's and torch's generators take; -1 and 2**64 failed inside them, naming no field (review, s24)
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or not 0 <= self.seed < 2**64:
            raise ValueError(f"seed: an integer in [0, 2**64), got {self.seed!r}")
        if self.assets is not None and len(set(self.assets)) != len(self.assets):
            # BTC twice trained every BTC window twice and counted its calibration windows twice, which the conformal
            # band's coverage guarantee does not survive (review of 2026-12-05, session 24)
            twice = sorted({a for a in self.assets if list(self.assets).count(a) > 1})
            raise ValueError(f"assets: {twice} given more than once")


@dataclass
class Pool:
    """Window sources (one per scenario) and the windows of one split in each."""

    sources: list[WindowSource]
    windows: list[Windows]
    names: list[str]

    def __len__(self) -> int:
        return sum(len(w) for w in self.windows)

    def batch(self, idx: np.ndarray, scaler: Scaler) -> tuple[np.ndarray, ...]:
        """Scaled X, C and y, the raw log-return targets, and each window's source and asset, for global indices."""
        offsets = np.cumsum([0] + [len(w) for w in self.windows])
        xs, cs, ys, srcs, assets = [], [], [], [], []
        for s, (src, w) in enumerate(zip(self.sources, self.windows, strict=True)):
            local = idx[(idx >= offsets[s]) & (idx < offsets[s + 1])] - offsets[s]
            if local.size == 0:
                continue
            part = w.take(local)
            x, c = src.inputs(part)
            xs.append(x)
            cs.append(c)
            ys.append(src.targets(part))
            srcs.append(np.full(local.size, s))
            assets.append(part.asset)
        x, c, y = np.concatenate(xs), np.concatenate(cs), np.concatenate(ys)
        return scaler.x(x), scaler.c(c), scaler.y(y), y, np.concatenate(srcs), np.concatenate(assets)


@dataclass
class TrainResult:
    model: object
    meta: dict
    history: list[dict]
    name: str
    version: str
    run_id: str
    tracking_uri: str


def load_markets(args: TrainArgs):
    """Each scenario's market (one row per seed), its features and window source; the scenario digests."""
    from prometheus_sim.market import Market
    from prometheus_sim.scenario import load_scenario

    out = []
    for path in args.scenarios:
        spec = load_scenario(path)
        if args.horizon_days is not None:
            spec = spec.with_horizon(args.horizon_days)
        market = Market.simulate(spec, seeds=args.seeds)
        fs = compute_features(market, args.features)
        out.append((spec, market, WindowSource.from_features(fs, args.window, args.horizon)))
    return out


def _asset_indices(market, wanted: tuple[str, ...] | None) -> np.ndarray:
    if wanted is None:
        chosen = [i for i, k in enumerate(market.asset_kinds) if k == "crypto"]
        if not chosen:
            raise ValueError(f"{market.name}: no crypto asset to train on; name the assets")
        return np.array(chosen)
    unknown = [a for a in wanted if a not in market.assets]
    if unknown:
        raise ValueError(f"assets: {unknown} are not in {market.name} ({market.assets})")
    return np.array([market.assets.index(a) for a in wanted])


def evaluate_windows(model, pool: Pool, scaler: Scaler, device: str, batch_size: int = 1024):
    """Predicted and realised log returns (n, H) and the confidence head's outputs."""
    import torch

    preds, confs, ys = [], [], []
    model.eval()
    with torch.no_grad():
        for start in range(0, len(pool), batch_size):
            idx = np.arange(start, min(start + batch_size, len(pool)))
            x, c, _, y, srcs, _ = pool.batch(idx, scaler)
            p, k = model(torch.from_numpy(x).to(device), torch.from_numpy(c).to(device) if c.shape[1] else None)
            preds.append(scaler.y_inverse(p.float().cpu().numpy().astype(np.float64)))
            confs.append(k.float().cpu().numpy())
            ys.append(y)
    return np.concatenate(preds), np.concatenate(confs), np.concatenate(ys)


def error_metrics(pred: np.ndarray, real: np.ndarray) -> dict[str, float]:
    """The guide's trainer metrics from log returns (n, H): mae (% of the last close, all horizons),
    mape (% of the realised price, at the last horizon), rmse (of log returns)."""
    price_err = np.abs(np.exp(pred) - np.exp(real))  # per unit of the last close
    return {
        "mae": float(price_err.mean() * 100.0),
        "mape": float((price_err[:, -1] / np.exp(real[:, -1])).mean() * 100.0),
        "rmse": float(np.sqrt(((pred - real) ** 2).mean())),
    }


def windows_needed(level: float) -> int:
    """The fewest calibration windows whose ``ceil((n + 1) level)``-th error exists: 19 for a 95 % band."""
    return next(m for m in range(1, 10_000) if np.ceil((m + 1) * level) <= m)


def check_calibration_size(cal_assets: np.ndarray, names: list[str]) -> None:
    """Refuse, before training, a calibration set too small for every band of every asset (what
    :func:`conformal_quantiles` needs once training is over): found only after the last epoch, it cost a whole
    training run per attempt, and named the first band that failed, so a user went from 9 to 19 windows in two
    failed runs (review of 2026-12-05, session 24)."""
    need = max(windows_needed(level) for level in BAND_LEVELS)
    ids, counts = np.unique(cal_assets, return_counts=True)
    short = {names[a]: int(n) for a, n in zip(ids, counts, strict=True) if n < need}
    if short or len(ids) == 0:
        raise ValueError(f"calibration: each asset needs {need} held-out window(s) for its {max(BAND_LEVELS):.0%} band, "
                         f"and {short or 'none'} have fewer: train on more seeds (--seeds) or a longer horizon "
                         "(--horizon-days); nothing was trained")  # fmt: skip


def conformal_quantiles(pred: np.ndarray, real: np.ndarray, scale: np.ndarray, assets: np.ndarray,
                        names: list[str]) -> dict:  # fmt: skip
    """Split-conformal quantiles of the normalised error |log-return error| / scale, per asset name (and
    ``"*"`` pooled), level and horizon; ``scale`` is :meth:`WindowSource.band_scale`.

    The ``ceil((n + 1) level) / n`` empirical quantile, so the band ``pred +/- q x scale`` covers at
    least ``level`` of exchangeable new windows (Vovk et al.; Lei et al., 2018, normalised scores).
    That needs ``ceil((n + 1) level) <= n`` windows of each asset (19 for the 95 % band): with fewer the index was
    clamped to the largest error, and a model calibrated on 3 windows registered identical 50 % and 95 % bands
    that covered about half of new outcomes (review of 2026-12-05); it is refused, naming the asset and how many.
    """
    err = np.abs(pred - real) / scale

    def q(e: np.ndarray, who: str) -> dict[str, list[float]]:
        n = e.shape[0]
        out = {}
        for level in BAND_LEVELS:
            k = int(np.ceil((n + 1) * level)) - 1
            if k >= n:
                need = windows_needed(level)
                raise ValueError(f"calibration: {n} window(s) of {who}, too few for a {level:.0%} band (it needs "
                                 f"{need}): train on more seeds (--seeds) or a longer horizon (--horizon-days)")  # fmt: skip
            out[f"{level:g}"] = np.sort(e, axis=0)[k].tolist()
        return out

    table = {"*": q(err, "all assets")}
    for a in np.unique(assets):
        table[names[a]] = q(err[assets == a], names[a])
    return table


def train(args: TrainArgs) -> TrainResult:
    """Simulate, build windows, train, calibrate, log and register; returns the model and its record. Torch runs on
    ``args.cpu_threads`` threads meanwhile (restored after)."""
    import numba
    import torch

    threads = torch.get_num_threads(), numba.get_num_threads()
    if args.cpu_threads is not None:
        # Numba's too: its parallel kernels (simulating the markets, the features) set OpenMP's thread count, which
        # torch shares, so a run set to 1 trained at the machine's count after the first simulation
        torch.set_num_threads(args.cpu_threads)
        numba.set_num_threads(min(args.cpu_threads, numba.config.NUMBA_NUM_THREADS))
    try:
        return _train(args)
    finally:
        torch.set_num_threads(threads[0])
        numba.set_num_threads(threads[1])


def _train(args: TrainArgs) -> TrainResult:
    import mlflow
    import mlflow.pytorch
    import torch
    from tqdm import tqdm

    from prometheus_sim import registry
    from prometheus_sim.forecast.model import LSTMTransformerForecaster

    rng = np.random.default_rng(args.seed)
    torch.manual_seed(args.seed)
    device = args.device  # checked in TrainArgs, before anything is simulated

    markets = load_markets(args)
    first_market = markets[0][1]
    asset_names = [first_market.assets[i] for i in _asset_indices(first_market, args.assets)]
    pools = {k: Pool([], [], asset_names) for k in ("train", "val", "cal")}
    plans = []
    for spec, market, src in markets:
        if market.assets != first_market.assets:  # windows index assets by column: one asset list per run
            raise ValueError(f"scenarios: {spec.name} has assets {market.assets}, {first_market.name} "
                             f"{first_market.assets}; train on scenarios with the same assets")  # fmt: skip
        plan = SplitPlan.of(market.n_paths, src.n_days, args.horizon, args.split_frac)
        plans.append(plan)
        idx = np.array([market.assets.index(a) for a in asset_names])
        for key, w in (("train", plan.train(src, idx, args.stride)), ("val", plan.held_out(src, plan.val_rows, idx)),
                       ("cal", plan.held_out(src, plan.cal_rows, idx))):  # fmt: skip
            pools[key].sources.append(src)
            pools[key].windows.append(w)
    for key, pool in pools.items():
        if len(pool) == 0:
            raise ValueError(f"no {key} windows: use more seeds or a longer horizon (split day, embargo and warm-up "
                             f"leave none)")  # fmt: skip
    check_calibration_size(np.concatenate([w.asset for w in pools["cal"].windows]), list(first_market.assets))
    scaler = Scaler.fit_many(list(zip(pools["train"].sources, pools["train"].windows, strict=True)))
    n_features = pools["train"].sources[0].x.shape[-1]
    n_context = pools["train"].sources[0].context.shape[-1]
    model = LSTMTransformerForecaster(
        input_dim=n_features, hidden_dim=args.hidden_dim, lstm_layers=args.lstm_layers, nhead=args.nhead,
        transformer_layers=args.transformer_layers, dropout=args.dropout, horizon=args.horizon, context_dim=n_context,
    ).to(device)  # fmt: skip

    n_train = len(pools["train"])
    per_epoch = min(n_train, args.max_windows_per_epoch or n_train)
    n_batches = max(1, -(-per_epoch // args.batch_size))
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=args.epochs * n_batches)
    mse = torch.nn.MSELoss()
    bce = torch.nn.BCELoss()
    autocast = torch.autocast(device_type="cuda", dtype=torch.bfloat16) if device.startswith("cuda") else None

    uri = registry.configure(args.tracking_uri)
    registry.check_name_kind(args.register_as, FORECASTER_NAME, uri)
    exp_id = registry.experiment("prometheus-forecaster", uri)
    run_name = f"{'+'.join(spec.name for spec, _, _ in markets)}__forecaster__{args.seed}"
    history: list[dict] = []
    best = (np.inf, None, -1)
    with mlflow.start_run(experiment_id=exp_id, run_name=run_name) as run:
        mlflow.log_params({k: (str(v) if isinstance(v, (tuple, dict, FeatureConfig)) or v is None else v)
                           for k, v in without_credentials(asdict(args)).items() if k != "progress"})  # fmt: skip
        mlflow.log_params({"n_train_windows": n_train, "n_val_windows": len(pools["val"]),
                           "n_cal_windows": len(pools["cal"]), "n_features": n_features, "n_context": n_context,
                           "n_parameters": sum(p.numel() for p in model.parameters())})  # fmt: skip
        epochs = tqdm(range(args.epochs), desc="epochs", unit="epoch", disable=not args.progress)
        for epoch in epochs:
            model.train()
            order = rng.permutation(n_train)[:per_epoch]
            total, total_bce, started = 0.0, 0.0, time.perf_counter()
            batches = tqdm(range(n_batches), desc=f"epoch {epoch + 1}", unit="batch", leave=False,
                           disable=not args.progress)  # fmt: skip
            for b in batches:
                idx = np.sort(order[b * args.batch_size : (b + 1) * args.batch_size])
                x, c, y_s, _, _, _ = pools["train"].batch(idx, scaler)
                xt, yt = torch.from_numpy(x).to(device), torch.from_numpy(y_s).to(device)
                ct = torch.from_numpy(c).to(device) if n_context else None
                if autocast is not None:
                    with autocast:
                        pred, conf = model(xt, ct)
                else:
                    pred, conf = model(xt, ct)
                pred, conf = pred.float(), conf.float()
                if not (torch.isfinite(pred).all() and torch.isfinite(conf).all()):  # a named error, nothing registered
                    raise ValueError(f"training diverged in epoch {epoch + 1}, batch {b + 1}: the model's outputs are "
                                     f"not finite (--lr {args.lr:g} too high?); nothing was registered")  # fmt: skip
                inside = ((pred.detach() - yt).abs() <= CONFIDENCE_RADIUS).float()
                price_loss, conf_loss = mse(pred, yt), bce(conf, inside)
                loss = price_loss + 0.1 * conf_loss
                opt.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                opt.step()
                sched.step()
                total += price_loss.item() * len(idx)
                total_bce += conf_loss.item() * len(idx)
            pred, _, real = evaluate_windows(model, pools["val"], scaler, device)
            val_loss = float(((scaler.y(pred) - scaler.y(real)) ** 2).mean())
            # train_loss is the MSE part alone, as val_loss is: with the confidence head's 0.1 x BCE in it, the two
            # curves measured different things (about 0.07 of a train figure of 1.12; review of 2026-12-05)
            metrics = {"train_loss": total / per_epoch, "train_conf_bce": total_bce / per_epoch, "val_loss": val_loss,
                       **error_metrics(pred, real),
                       "epoch_seconds": time.perf_counter() - started}  # fmt: skip
            mlflow.log_metrics(metrics, step=epoch)
            if not (math.isfinite(val_loss) and math.isfinite(metrics["mae"])):  # --lr 1000 registered mae inf %
                raise ValueError(f"training diverged in epoch {epoch + 1}: validation loss {val_loss:g}, MAE "
                                 f"{metrics['mae']:g} % (--lr {args.lr:g} too high?); nothing was registered")  # fmt: skip
            history.append({"epoch": epoch, **metrics})
            epochs.set_postfix(val_loss=f"{val_loss:.4f}", mae=f"{metrics['mae']:.2f}%")
            if val_loss < best[0]:
                best = (val_loss, copy.deepcopy(model.state_dict()), epoch)
            elif epoch - best[2] >= args.patience:
                break
        model.load_state_dict(best[1])
        model = model.cpu().eval()
        pred, _, real = evaluate_windows(model, pools["cal"], scaler, "cpu")
        cal_assets = np.concatenate([w.asset for w in pools["cal"].windows])
        cal_scale = np.concatenate([src.band_scale(w) for src, w in zip(pools["cal"].sources, pools["cal"].windows,
                                                                          strict=True)])  # fmt: skip
        market_assets = first_market.assets
        meta = {
            "kind": "prometheus-forecaster", "features": args.features.as_dict(), "window": args.window,
            "horizon": args.horizon, "scaler": scaler.to_dict(), "assets": asset_names,
            "window_features": list(args.features.window_names), "context_features": list(args.features.context_names),
            "conformal": conformal_quantiles(pred, real, cal_scale, cal_assets, market_assets), "best_epoch": best[2],
            "scenario_digests": {spec.name: spec.digest() for spec, _, _ in markets},
            # in full, and the real days each was set to match: forecast evaluate checks a saved or real market
            # against them (rl.provenance), as policy evaluate does
            "scenario_specs": {spec.name: spec.model_dump(mode="json") for spec, _, _ in markets},
            "calibrated_to": {spec.name: spec.calibrated_to and [str(spec.calibrated_to.start),
                                                                 str(spec.calibrated_to.end)] for spec, _, _ in markets},
            "seeds": [int(s) for s in args.seeds], "split": {"split_frac": args.split_frac, "embargo": args.horizon,
            # the last day any training window's target reaches, + 1 (the latest over the markets): evaluation starts
            # at it + the embargo on every market (it was the split fraction of each evaluated market's own length,
            # so a shorter market was scored on days inside the training range; review of the CLI, session 25)
            "split_day": max(p.split_day for p in plans),
            "held_out_rows": [list(plans[0].val_rows), list(plans[0].cal_rows)]}, "args": _jsonable(without_credentials(asdict(args))),
            "model_config": model.config, "torch_threads": torch.get_num_threads(),
        }  # fmt: skip
        model.meta = meta
        mlflow.log_dict(meta, "forecaster.json")
        mlflow.log_metric("best_val_loss", best[0])
        info = mlflow.pytorch.log_model(model, name="model", serialization_format="pickle",
                                        pip_requirements=["torch==2.13.0"], registered_model_name=args.register_as)  # fmt: skip
        registry.tag_kind(args.register_as, FORECASTER_NAME, uri)
        version = str(info.registered_model_version)
    return TrainResult(model, meta, history, args.register_as, version, run.info.run_id, uri)


def _jsonable(value):
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (tuple, list)):
        return [_jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


__all__ = ["BAND_LEVELS", "CONFIDENCE_RADIUS", "TrainArgs", "TrainResult", "conformal_quantiles", "error_metrics",
           "evaluate_windows", "train"]  # fmt: skip
