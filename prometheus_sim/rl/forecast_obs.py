"""The forecaster's view as observation features: what a policy trained with ``--forecaster`` sees beside the market.

Issue 12 builds the env on the forecasting issue's model ("forecasts are optional observation features"). Given a
registered forecaster, ``PortfolioEnv`` (and so its batched forms, the torch twin and the ``dqn`` strategy, which
all read the env's feature tail) appends, for each of the three featured crypto assets (``AssetBook.featured``, in
the feature tail's order):

* ``forecast_return``: the predicted log return from the day's close to ``horizon`` days on (the model's horizon);
* ``forecast_band``: the half-width of its calibrated band at ``level`` (default 0.8, the predictor's) at that
  horizon, in log-return units: how far the model's own out-of-sample errors say to trust the prediction.

Both come from the window that ends at the decision's last whole day (the env's ``last_whole_day``); a window reads
nothing after its last day, so the columns are as blind to the future as the recent features (tested by perturbing
the future). Before the forecaster's first full window (the features' warm-up plus its window, less one day:
:attr:`ForecastInputs.first_day`) and where a window holds a NaN (a real asset before its listing), the values are
0, as the recent features are in their warm-up; episodes with forecasts start on the first day with a full window,
and the ``dqn`` strategy first decides on its decision grid from there (day 63 at weekly decisions, for day 62).

Honest by construction, not by convention: a forecaster predicts the paths it trained, stopped early or calibrated
on better than unseen ones (its in-sample errors are smaller, its bands too wide for them), so a policy trained
there would learn to trust forecasts more than they deserve. Training refuses seeds the forecaster has seen (all
its seeds: training, validation and calibration rows), naming them; the policy's metadata records the forecaster's
seeds, calibration windows and version (:meth:`ForecastInputs.record`), and every in-sample check of a policy
(:func:`prometheus_sim.rl.provenance.seen_seeds`) counts them as seen. The forecaster is pinned by version: the
strategy loads exactly the one the policy trained with, never ``@latest``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from prometheus_sim.features import WARMUP_DAYS, FeatureSet

FORECAST_FEATURES = ("forecast_return", "forecast_band")
DEFAULT_FORECAST_LEVEL = 0.8
#: windows predicted per call when a whole market's table is built (the network's batch; memory ~ batch x window x F)
TABLE_BATCH = 4096


@dataclass(frozen=True)
class ForecastInputs:
    """A loaded forecaster and the band level its observation columns use (see the module docstring)."""

    predictor: object  # prometheus_sim.forecast.predictor.PricePredictor (imported lazily: torch)
    level: float = DEFAULT_FORECAST_LEVEL
    progress: bool = False
    """a progress bar while a pool's table is computed (``policy train --progress``)"""

    @classmethod
    def load(cls, forecaster, level: float | None = None, tracking_uri: str | None = None,
             device: str = "cpu") -> ForecastInputs:  # fmt: skip
        """From a registry reference (``name@version|latest|alias``), a ``PricePredictor`` or a ``ForecastInputs``
        (whose level is kept unless ``level`` is given; None otherwise means :data:`DEFAULT_FORECAST_LEVEL`). A
        reference is loaded on ``device``: the whole pool's table is a network pass per window (module docstring)."""
        from prometheus_sim.forecast.predictor import PricePredictor

        progress = False
        if isinstance(forecaster, ForecastInputs):  # its level, unless another is asked for
            level = forecaster.level if level is None else level
            forecaster, progress = forecaster.predictor, forecaster.progress
        level = DEFAULT_FORECAST_LEVEL if level is None else level
        if isinstance(level, bool) or not isinstance(level, int | float | np.number):
            raise ValueError(f"forecast_level: a calibrated band level such as 0.8, got {level!r}")
        if isinstance(forecaster, str):
            forecaster = PricePredictor.load(forecaster, tracking_uri, device=device)
        if not isinstance(forecaster, PricePredictor):
            raise ValueError(f"forecaster: a registered forecaster's reference (name@version) or a PricePredictor, "
                             f"got {type(forecaster).__name__}")  # fmt: skip
        for asset in forecaster.meta["assets"]:  # an uncalibrated level fails here, naming the calibrated ones
            forecaster.band_quantile(asset, float(level))
        return cls(forecaster, float(level), progress)

    @property
    def first_day(self) -> int:
        """The first day whose window is whole: the features' warm-up plus the forecaster's window, less one."""
        return WARMUP_DAYS + int(self.predictor.window) - 1

    @property
    def history_days(self) -> int:
        """Days of history a decision's columns are computed from (``snapshot_features``' ``days``): the window
        with the recent features' year of history before its first day, so the slow statistics (MACD's EMAs) at
        every day of the window have forgotten where the history was cut, as they have in the env's whole-market
        table (with the recent features' 365 days alone, a forecaster window over 332 days saw zeros in the
        strategy and real values in training; review of 2026-12-05, session 21)."""
        from prometheus_sim.features import HISTORY_DAYS

        return HISTORY_DAYS + int(self.predictor.window)

    @property
    def width(self) -> int:
        from prometheus_sim.rl.env import N_CRYPTO_FEATURED

        return N_CRYPTO_FEATURED * len(FORECAST_FEATURES)

    def check_assets(self, names: tuple[str, ...]) -> None:
        """Refuse featured crypto assets the forecaster was not trained on (their columns would be made up)."""
        unknown = [n for n in names if n not in self.predictor.meta["assets"]]
        if unknown:
            raise ValueError(f"forecaster {self.reference}: the observation features {list(names)}, and "
                             f"{unknown} are not among the assets it was trained on ({self.predictor.meta['assets']})")  # fmt: skip

    @property
    def reference(self) -> str:
        """The pinned registry reference (``name@version``) of the loaded forecaster."""
        name, version = self.predictor.ref
        return f"{name}@{version}" if name and version else "an unregistered forecaster"

    def seen_seeds(self) -> set[int]:
        """Every seed the forecaster trained, stopped early or calibrated on."""
        return {int(s) for s in self.predictor.meta.get("seeds", [])}

    def refuse_seen(self, option: str, seeds) -> None:
        """A ValueError naming ``option``'s seeds the forecaster has seen (module docstring: why)."""
        clash = sorted(self.seen_seeds() & {int(s) for s in seeds})
        if clash:
            raise ValueError(f"{option}: {clash[:5]}{'...' if len(clash) > 5 else ''} are seeds forecaster "
                             f"{self.reference} trained, stopped early or calibrated on; its forecasts there are "
                             "in-sample (better than it can do on unseen paths), so a policy would learn to trust them "
                             "too much: use seeds it has not seen")  # fmt: skip

    def refuse_seen_market(self, market) -> None:
        """:meth:`refuse_seen` for a market's rows: those that are path 0 of a seed the forecaster saw, of any
        scenario (the in-sample rule a policy's own seeds follow: :func:`prometheus_sim.rl.provenance.in_sample_rows`)."""
        from prometheus_sim.rl.provenance import in_sample_rows

        rows = in_sample_rows({"seeds": sorted(self.seen_seeds())}, market)
        self.refuse_seen("market", [int(market.seeds[i]) for i in rows])

    def record(self) -> dict:
        """What a policy's metadata keeps of its forecaster: the pinned version, the level and the first day, and,
        for the in-sample and out-of-time checks, its seeds, scenarios and calibration windows."""
        meta = self.predictor.meta
        return {
            "model": self.reference, "level": self.level, "features": list(FORECAST_FEATURES),
            "first_day": self.first_day, "horizon": int(self.predictor.horizon), "window": int(self.predictor.window),
            "feature_switches": self.predictor.features.as_dict(),  # the market blocks it reads: checked up front
            "seeds": sorted(self.seen_seeds()), "scenario_digests": dict(meta.get("scenario_digests") or {}),
            "calibrated_to": dict(meta.get("calibrated_to") or {}),
        }  # fmt: skip

    # ------------------------------------------------------------ columns

    def features_of(self, market, threads: bool = True) -> FeatureSet:
        from prometheus_sim.features import compute_features

        return compute_features(market, self.predictor.features, threads=threads)

    def table(self, fs: FeatureSet, featured: tuple[int, ...]) -> np.ndarray:
        """(paths, days, width): every day's columns of ``fs``'s market (a whole pool, for the env). A network pass
        per (path, day, featured asset), with a bar when ``progress``."""
        return self._columns(fs, featured, np.arange(min(self.first_day, fs.n_days), fs.n_days), self.progress)

    def last_day(self, fs: FeatureSet, featured: tuple[int, ...]) -> np.ndarray:
        """(paths, width): the columns at ``fs``'s last day (a strategy's decision, from the snapshot's history)."""
        last = fs.n_days - 1
        return self._columns(fs, featured, np.arange(last, last + 1) if last >= self.first_day else np.arange(0))[:, -1]

    def _columns(self, fs: FeatureSet, featured, days: np.ndarray, progress: bool = False) -> np.ndarray:
        """(paths, fs's days, width): the columns at ``days`` (whole windows only), zeros elsewhere."""
        from tqdm import tqdm

        from prometheus_sim.forecast.data import Windows, WindowSource
        from prometheus_sim.rl.env import N_CRYPTO_FEATURED

        n_paths = fs.close.shape[0]
        out = np.zeros((n_paths, fs.n_days, self.width))
        crypto = list(featured)[:N_CRYPTO_FEATURED]
        if not crypto or days.size == 0:
            return out
        predictor = self.predictor
        self.check_assets(tuple(fs.assets[a] for a in crypto))
        src = WindowSource.from_features(fs, predictor.window, predictor.horizon)
        slot, path, day = (g.ravel() for g in np.meshgrid(np.arange(len(crypto)), np.arange(n_paths), days,
                                                     indexing="ij"))  # fmt: skip
        asset = np.asarray(crypto)[slot]
        ok = whole_windows(src)[path, asset, day]  # a window holding a NaN (before a listing) keeps its zeros
        windows = Windows(path, asset, day).take(ok)
        h = predictor.horizon - 1
        col = slot[ok] * len(FORECAST_FEATURES)
        chunk = TABLE_BATCH * 16
        bar = tqdm(total=len(windows), desc="forecast columns", unit="window", unit_scale=True, disable=not progress)
        for lo in range(0, len(windows), chunk):  # chunks: the band's (n, window) arrays stay small
            part = np.arange(lo, min(lo + chunk, len(windows)))
            w = windows.take(part)
            mu, _ = predictor.predict_windows(src, w, batch_size=TABLE_BATCH)
            out[w.path, w.end, col[part]] = mu[:, h]
            out[w.path, w.end, col[part] + 1] = predictor.band(src, w, list(fs.assets), self.level)[:, h]
            bar.update(len(part))
        bar.close()
        return out


def whole_windows(src) -> np.ndarray:
    """(paths, assets, days) booleans: the window ending that day holds no NaN in its inputs or its context (counted
    by running sums over the days, so the whole table's windows are never stacked in memory at once)."""
    bad_day = ~np.isfinite(src.x).all(axis=3)  # (paths, assets, days)
    bad = np.concatenate([np.zeros(bad_day.shape[:2] + (1,), dtype=np.int64), np.cumsum(bad_day, axis=2)], axis=2)
    end = np.arange(src.n_days)
    first = np.maximum(end - src.window + 1, 0)
    clean = (bad[:, :, end + 1] - bad[:, :, first]) == 0
    return clean & (end >= src.window - 1) & np.isfinite(src.context).all(axis=2)[:, None, :]


def blocks_problem(meta: dict, absent) -> str | None:
    """Why a policy with metadata ``meta`` cannot observe its forecasts on a market with ``absent`` columns (a real
    market without on-chain or macro files, whose forecaster reads them), or None."""
    from prometheus_sim.blocks import MissingDataError
    from prometheus_sim.features import FeatureConfig, check_blocks

    switches = (meta.get("forecast") or {}).get("feature_switches")
    if not switches:
        return None
    try:
        check_blocks(FeatureConfig(**switches), absent)
    except MissingDataError as exc:
        lacking = []  # every block the forecaster reads that the market lacks, whole or in part: the advice's flags
        for block in ("volume", "onchain", "macro"):
            try:
                check_blocks(FeatureConfig(**{**{k: False for k in switches}, "price": True, block: True}), absent)
            except MissingDataError:
                if switches.get(block):
                    lacking.append(block)
        flags = " ".join(f"--no {b}" for b in lacking)
        return (f"observes forecaster {meta['forecast'].get('model')}, which reads what this market lacks: "
                f"{exc.args[0] if exc.args else exc} (a policy for such markets needs a forecaster trained without "
                f"it: forecast train ... {flags})")  # fmt: skip
    return None


def policy_first_day(meta: dict) -> int:
    """The first day a policy with metadata ``meta`` decides on: the features' warm-up, or its forecaster's first
    whole window when it observes forecasts."""
    forecast = meta.get("forecast") or {}
    return max(WARMUP_DAYS, int(forecast.get("first_day", WARMUP_DAYS)))


__all__ = ["DEFAULT_FORECAST_LEVEL", "FORECAST_FEATURES", "ForecastInputs", "blocks_problem", "policy_first_day"]
