"""Windows, the scaler and the splits: what the forecaster trains and is scored on.

A window ending at day t holds the features of days ``t - w + 1 .. t`` (X, per asset plus the
market-wide block), the context C(t) (macro features at t) and the last close; its targets are
the log returns ``log(close[t + h] / close[t])``, h = 1..H. Nothing in a window reads a day after
t; only its targets do. Windows never start in the features' warm-up and never contain NaN
(:func:`make_windows` counts and skips any that would).

Splits (:class:`SplitPlan`) are by later time *and* unseen seeds: training windows come from the
training seeds and have every target before ``split_day``; validation (early stopping) and
calibration (conformal bands) windows come from other seeds and start ``embargo`` days after
``split_day`` (at least H, the span over which targets overlap), so no training target falls in
a held-out window. The scaler is fitted on the training windows only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from prometheus_sim.features import WARMUP_DAYS, FeatureSet

#: Standardised inputs are clipped to +/- this, so one freak day (a flash crash's volume change)
#: cannot dominate a batch; the clip is part of the scaler and applies at prediction too.
CLIP_SIGMAS = 10.0


@dataclass(frozen=True)
class Windows:
    """Window ``i`` is (path ``path[i]``, asset ``asset[i]``, last day ``end[i]``) of a :class:`WindowSource`."""

    path: np.ndarray
    asset: np.ndarray
    end: np.ndarray
    skipped_nan: int = 0

    def __len__(self) -> int:
        return int(self.end.shape[0])

    def take(self, sel: np.ndarray) -> Windows:
        return Windows(self.path[sel], self.asset[sel], self.end[sel])


@dataclass
class WindowSource:
    """The arrays windows are cut from, in float32: ``x`` (paths, assets, days, F), ``context``
    (paths, days, F_c), ``log_close`` (paths, assets, days)."""

    x: np.ndarray
    context: np.ndarray
    log_close: np.ndarray
    window: int
    horizon: int

    @classmethod
    def from_features(cls, fs: FeatureSet, window: int = 30, horizon: int = 7) -> WindowSource:
        x = np.stack([fs.window_inputs(a) for a in range(len(fs.assets))], axis=1).astype(np.float32)
        return cls(
            x=np.ascontiguousarray(x), context=np.ascontiguousarray(fs.context, dtype=np.float32),
            log_close=np.ascontiguousarray(np.log(fs.close).transpose(0, 2, 1)), window=window, horizon=horizon,
        )  # fmt: skip

    @property
    def n_days(self) -> int:
        return self.x.shape[2]

    def inputs(self, w: Windows) -> tuple[np.ndarray, np.ndarray]:
        """X (n, window, F) and C (n, F_c) of the windows."""
        days = w.end[:, None] + np.arange(-self.window + 1, 1)[None, :]
        x = self.x[w.path[:, None], w.asset[:, None], days]
        c = self.context[w.path, w.end]
        return x, c

    def targets(self, w: Windows) -> np.ndarray:
        """Log returns from the last close to t + 1 .. t + H: (n, H)."""
        days = w.end[:, None] + np.arange(1, self.horizon + 1)[None, :]
        now = self.log_close[w.path, w.asset, w.end]
        return self.log_close[w.path[:, None], w.asset[:, None], days] - now[:, None]

    def last_log_close(self, w: Windows) -> np.ndarray:
        return self.log_close[w.path, w.asset, w.end]

    def band_scale(self, w: Windows) -> np.ndarray:
        """(n, H): the window's daily log-return std (its 30 days) x sqrt(h), the unit conformal bands are in.

        Bands in these units adapt to the volatility the window shows (GARCH states, calm or wild
        scenarios), where raw quantiles would carry the calibration split's volatility everywhere.
        """
        days = w.end[:, None] + np.arange(-self.window + 1, 1)[None, :]
        past = self.log_close[w.path[:, None], w.asset[:, None], days]
        sigma = np.maximum(np.diff(past, axis=1).std(axis=1, ddof=1), 1e-6)
        return sigma[:, None] * np.sqrt(np.arange(1, self.horizon + 1))[None, :]


def make_windows(
    src: WindowSource,
    paths: np.ndarray,
    assets: np.ndarray,
    first_day: int = 0,
    last_target_day: int | None = None,
    stride: int = 1,
    need_targets: bool = True,
) -> Windows:
    """Every window of ``paths`` x ``assets`` that starts at or after ``first_day`` (and after the warm-up),
    has its targets up to ``last_target_day`` (default: the last day) and no NaN; ends every ``stride`` days."""
    last = src.n_days - 1 if last_target_day is None else min(last_target_day, src.n_days - 1)
    lo = max(first_day, WARMUP_DAYS) + src.window - 1
    hi = last - (src.horizon if need_targets else 0)
    ends = np.arange(lo, hi + 1, stride)
    if ends.size == 0:
        return Windows(np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.int64))
    p, a, t = (g.ravel() for g in np.meshgrid(np.asarray(paths), np.asarray(assets), ends, indexing="ij"))
    w = Windows(p.astype(np.int64), a.astype(np.int64), t.astype(np.int64))
    x, c = src.inputs(w)
    ok = np.isfinite(x).all(axis=(1, 2)) & np.isfinite(c).all(axis=1)
    if need_targets:
        ok &= np.isfinite(src.targets(w)).all(axis=1)
    return Windows(w.path[ok], w.asset[ok], w.end[ok], skipped_nan=int((~ok).sum()))


@dataclass(frozen=True)
class SplitPlan:
    """Which rows (seeds) and days train, validate and calibrate (see the module docstring)."""

    train_rows: tuple[int, ...]
    val_rows: tuple[int, ...]
    cal_rows: tuple[int, ...]
    split_day: int
    embargo: int

    @classmethod
    def of(cls, n_rows: int, n_days: int, horizon: int, split_frac: float = 0.7, held_out: float = 0.25) -> SplitPlan:
        """Hold out ``held_out`` of the rows (half validation, half calibration; at least one each)."""
        if n_rows < 3:
            raise ValueError(f"seeds: at least 3 are needed (train, validation, calibration), got {n_rows}")
        k = max(1, round(n_rows * held_out / 2))
        rows = list(range(n_rows))
        return cls(tuple(rows[: n_rows - 2 * k]), tuple(rows[n_rows - 2 * k : n_rows - k]), tuple(rows[n_rows - k :]),
                   split_day=int(n_days * split_frac), embargo=horizon)  # fmt: skip

    def train(self, src: WindowSource, assets: np.ndarray, stride: int = 1) -> Windows:
        return make_windows(src, np.array(self.train_rows), assets, last_target_day=self.split_day - 1, stride=stride)

    def held_out(self, src: WindowSource, rows: tuple[int, ...], assets: np.ndarray, stride: int = 1) -> Windows:
        return make_windows(src, np.array(rows), assets, first_day=self.split_day + self.embargo, stride=stride)


@dataclass
class Scaler:
    """Standardise inputs, context and targets with statistics of the training windows only."""

    x_mean: np.ndarray
    x_std: np.ndarray
    c_mean: np.ndarray
    c_std: np.ndarray
    y_std: np.ndarray  # per horizon: targets are divided by it (their mean is kept: drift is signal)
    names: dict = field(default_factory=dict)

    @classmethod
    def fit(cls, src: WindowSource, train: Windows) -> Scaler:
        return cls.fit_many([(src, train)])

    @classmethod
    def fit_many(cls, parts: list[tuple[WindowSource, Windows]]) -> Scaler:
        """Statistics over every row of the training windows of every source."""
        xs, cs, ys = [], [], []
        for src, w in parts:
            if len(w):
                x, c = src.inputs(w)
                xs.append(x.reshape(-1, x.shape[-1]))
                cs.append(c)
                ys.append(src.targets(w))
        if not xs:
            raise ValueError("no training windows: the scaler needs some (more seeds or a longer horizon)")
        x, c, y = (np.concatenate(a).astype(np.float64) for a in (xs, cs, ys))

        def std(a: np.ndarray) -> np.ndarray:
            s = a.std(axis=0)
            return np.where(s > 0, s, 1.0)

        c_mean = c.mean(axis=0) if c.shape[1] else np.zeros(0)
        c_std = std(c) if c.shape[1] else np.ones(0)
        return cls(x.mean(axis=0), std(x), c_mean, c_std, std(y))

    def x(self, x: np.ndarray) -> np.ndarray:
        return np.clip((x - self.x_mean) / self.x_std, -CLIP_SIGMAS, CLIP_SIGMAS).astype(np.float32)

    def c(self, c: np.ndarray) -> np.ndarray:
        return np.clip((c - self.c_mean) / self.c_std, -CLIP_SIGMAS, CLIP_SIGMAS).astype(np.float32)

    def y(self, y: np.ndarray) -> np.ndarray:
        return (y / self.y_std).astype(np.float32)

    def y_inverse(self, y_scaled: np.ndarray) -> np.ndarray:
        return y_scaled * self.y_std

    def to_dict(self) -> dict:
        return {k: np.asarray(getattr(self, k)).tolist() for k in ("x_mean", "x_std", "c_mean", "c_std", "y_std")}

    @classmethod
    def from_dict(cls, d: dict) -> Scaler:
        return cls(*(np.asarray(d[k], dtype=np.float64) for k in ("x_mean", "x_std", "c_mean", "c_std", "y_std")))


__all__ = ["CLIP_SIGMAS", "Scaler", "SplitPlan", "WindowSource", "Windows", "make_windows"]
