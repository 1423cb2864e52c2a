"""``PricePredictor``: a registered forecaster, loaded by ``name@version|latest|alias``, predicting in batches.

It scales inputs with the model's own scaler, inverse-scales predictions, and returns the guide's
``{asset, horizon_days, predictions, confidence, timestamp}`` truncated to the horizon, plus the
band the confidence refers to: ``lower`` and ``upper`` are the split-conformal band at ``level``
(calibrated on held-out seeds and later days), and ``confidence[h]`` is the probability that the
realised price at t + h falls inside it, i.e. ``level`` (checked out of sample by
``forecast evaluate``'s coverage table). Bad input (an asset or block the model was not trained
on, too little history, NaN in a window, a horizon beyond the model's) is an error that says so.
"""

from __future__ import annotations

import numpy as np

from prometheus_sim.features import WARMUP_DAYS, FeatureConfig, compute_features
from prometheus_sim.forecast.data import Scaler, Windows, WindowSource

DEFAULT_LEVEL = 0.8


class PredictionError(ValueError):
    """A prediction that cannot be made honestly; the message names what is wrong."""


class PricePredictor:
    """Predictions of one registered forecaster (see the module docstring)."""

    def __init__(self, model, meta: dict, ref: tuple[str, str] = ("", ""), device: str = "cpu"):
        from prometheus_sim.devices import check_device

        self.model = model.to(check_device(device)).eval()
        self.meta = meta
        self.ref = ref
        self.device = device
        self.scaler = Scaler.from_dict(meta["scaler"])
        self.features = FeatureConfig(**meta["features"])
        # the features are rebuilt from the stored switches: they must give the columns the model was trained on, in
        # its order (a hand-registered model, or a feature change since, broadcast-failed or predicted from columns
        # in another order)
        for key, built in (("window_features", self.features.window_names),
                           ("context_features", self.features.context_names)):  # fmt: skip
            stored = meta.get(key)
            if stored is not None and list(stored) != list(built):
                raise PredictionError(f"model {ref[0] or '?'}@{ref[1] or '?'}: its {key} {list(stored)} are not "
                                      f"what this version computes from its feature switches, {list(built)}")  # fmt: skip
        self.window = int(meta["window"])
        self.horizon = int(meta["horizon"])

    @classmethod
    def load(cls, ref: str, tracking_uri: str | None = None, device: str = "cpu") -> PricePredictor:
        from prometheus_sim.devices import check_device
        from prometheus_sim.registry import load_pytorch

        check_device(device)  # before the model is read
        model, resolved = load_pytorch(ref, tracking_uri)
        meta = getattr(model, "meta", None)
        if not isinstance(meta, dict) or meta.get("kind") != "prometheus-forecaster":
            raise PredictionError(f"model {ref!r} is not a prometheus forecaster (no forecaster metadata)")
        return cls(model, meta, resolved, device)

    @property
    def context_names(self) -> list[str]:
        """The context inputs C(t) by column, as the model was trained."""
        return list(self.meta.get("context_features") or self.features.context_names)

    @property
    def model_uri(self) -> str:
        return f"models:/{self.ref[0]}/{self.ref[1]}"

    # ------------------------------------------------------------ inputs

    def source(self, market) -> WindowSource:
        """The market's features as the model was trained (a block it lacks is a MissingDataError)."""
        fs = compute_features(market, self.features)
        return WindowSource.from_features(fs, self.window, self.horizon)

    def check_asset(self, asset: str, market_assets: list[str]) -> int:
        if asset not in self.meta["assets"]:
            raise PredictionError(f"asset {asset!r}: the model was trained on {self.meta['assets']} only")
        if asset not in market_assets:
            raise PredictionError(f"asset {asset!r} is not in this market ({market_assets})")
        return market_assets.index(asset)

    def band_quantile(self, asset: str, level: float) -> np.ndarray:
        """The conformal quantile of the normalised error at ``level`` per horizon (H,)."""
        table = self.meta["conformal"].get(asset) or self.meta["conformal"]["*"]
        key = f"{level:g}"
        if key not in table:
            raise PredictionError(f"level {level}: calibrated levels are {sorted(table)}")
        return np.asarray(table[key])

    def band(self, src: WindowSource, windows: Windows, assets: list[str], level: float) -> np.ndarray:
        """Half-widths (n, H) of the ``level`` band of log returns: quantile x the window's volatility scale."""
        q = np.stack([self.band_quantile(assets[a], level) for a in windows.asset]) if len(windows) else 0.0
        return q * src.band_scale(windows)

    # ------------------------------------------------------------ predictions

    def predict_windows(
        self, src: WindowSource, windows: Windows, batch_size: int = 256
    ) -> tuple[np.ndarray, np.ndarray]:
        """Predicted log returns and the confidence head's outputs, both (n, H), for windows of ``src``."""
        import torch

        preds, confs = [], []
        with torch.no_grad():
            for start in range(0, len(windows), batch_size):
                part = windows.take(np.arange(start, min(start + batch_size, len(windows))))
                x, c = src.inputs(part)
                bad = ~np.isfinite(x)
                if bad.any():
                    i, d, f = np.argwhere(bad)[0]
                    raise PredictionError(f"NaN in the inputs: feature {self.meta['window_features'][f]!r} at day "
                                          f"{int(part.end[i]) - self.window + 1 + int(d)} (path {int(part.path[i])})")  # fmt: skip
                bad_c = ~np.isfinite(c)
                if bad_c.any():  # a missing macro value gave NaN predictions with a confidence of 0.8, and bad JSON
                    i, f = np.argwhere(bad_c)[0]
                    raise PredictionError(f"NaN in the inputs: context {self.context_names[f]!r} at day "
                                          f"{int(part.end[i])} (path {int(part.path[i])})")  # fmt: skip
                xt = torch.from_numpy(self.scaler.x(x)).to(self.device)
                ct = torch.from_numpy(self.scaler.c(c)).to(self.device) if c.shape[1] else None
                p, k = self.model(xt, ct)
                preds.append(self.scaler.y_inverse(p.float().cpu().numpy().astype(np.float64)))
                confs.append(k.float().cpu().numpy())
        if not preds:
            return np.empty((0, self.horizon)), np.empty((0, self.horizon))
        return np.concatenate(preds), np.concatenate(confs)

    def predict(self, market, asset: str, path: int = 0, day: int | None = None, horizon_days: int | None = None,
                level: float = DEFAULT_LEVEL) -> dict:  # fmt: skip
        """The guide's response for one asset of one path at the close of ``day`` (default: the last)."""
        horizon_days = self.horizon if horizon_days is None else int(horizon_days)
        if not 1 <= horizon_days <= self.horizon:
            raise PredictionError(f"horizon_days {horizon_days}: this model predicts 1..{self.horizon} days")
        a = self.check_asset(asset, list(market.assets))
        if not 0 <= path < market.n_paths:
            raise PredictionError(f"path {path}: the market has {market.n_paths}")
        src = self.source(market.rows(slice(path, path + 1)))
        day = src.n_days - 1 if day is None else int(day)
        need = WARMUP_DAYS + self.window
        if not 0 <= day < src.n_days:
            raise PredictionError(f"day {day}: past the market's days (0..{src.n_days - 1})")
        if day + 1 < need:
            raise PredictionError(f"too little history: a forecast needs {need} days of data (the features' "
                                  f"{WARMUP_DAYS}-day warm-up and a {self.window}-day window); day {day} of "
                                  f"{src.n_days} has {day + 1}")  # fmt: skip
        w = Windows(np.array([0]), np.array([a]), np.array([day]))
        pred, _ = self.predict_windows(src, w)
        last = float(np.exp(src.last_log_close(w)[0]))
        half = self.band(src, w, list(market.assets), level)[0]
        h = slice(0, horizon_days)
        from prometheus_sim.features import daily_bars

        _, days = daily_bars(market.rows(slice(path, path + 1)))
        return {
            "asset": asset,
            "horizon_days": horizon_days,
            "predictions": (last * np.exp(pred[0, h])).tolist(),
            "confidence": [float(level)] * horizon_days,
            "lower": (last * np.exp(pred[0, h] - half[h])).tolist(),
            "upper": (last * np.exp(pred[0, h] + half[h])).tolist(),
            "level": float(level),
            "last_close": last,
            "timestamp": int(days[day].timestamp()),
            "model": self.model_uri,
        }


__all__ = ["DEFAULT_LEVEL", "PredictionError", "PricePredictor"]
