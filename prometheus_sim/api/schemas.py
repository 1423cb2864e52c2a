"""The guide's request and response shapes, validated: every 422 names the field and the problem."""

from __future__ import annotations

import math

from pydantic import BaseModel, ConfigDict, Field, field_validator

MAX_ASSETS = 64
# the most a portfolio may hold in all: the bound of a risk profile's investment_amount (portfolio.RiskProfile);
# past it the sum of the values (a float) would also stop being exact enough to weigh the assets
MAX_TOTAL_VALUE = 1e15
# the least a portfolio to optimise may hold in all: a cent. {"BTC": 5e-324} was answered SELL_MAJOR with no trade
# in it (review of 2026-12-05): nothing that small can be traded, so no recommendation about it means anything
MIN_OPTIMIZE_VALUE = 0.01


class _Strict(BaseModel):
    # strict: JSON's true, "100" and 3.0 are not numbers or whole numbers here (coerced, `"horizon": true` was a
    # one-day forecast); an int is still a float
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, strict=True)


def _check_portfolio(value: dict[str, float]) -> dict[str, float]:
    if not value:
        raise ValueError("must name at least one asset")
    if len(value) > MAX_ASSETS:
        raise ValueError(f"at most {MAX_ASSETS} assets")
    for asset, amount in value.items():
        if not isinstance(amount, (int, float)) or isinstance(amount, bool) or not math.isfinite(amount):
            raise ValueError(f"{asset}: the value must be a finite number, got {amount!r}")
        if amount < 0:
            raise ValueError(f"{asset}: the value must be >= 0, got {amount}")
    total = sum(value.values())  # inf past float range (math.fsum raises OverflowError there)
    if total <= 0:
        raise ValueError("the values must add up to more than 0")
    if total > MAX_TOTAL_VALUE:
        raise ValueError(f"the values add up to {total:.6g}; at most {MAX_TOTAL_VALUE:.0e} in all")
    return value


class PriceRequest(_Strict):
    asset: str = Field(min_length=1, max_length=32, examples=["BTC"])
    horizon: int = Field(7, ge=1, le=30, description="Days ahead, 1..30 (and at most the served model's horizon).")


class PriceResponse(BaseModel):
    asset: str
    horizon_days: int
    predictions: list[float]
    confidence: list[float] = Field(description="Per day: the probability the price lands inside [lower, upper].")
    lower: list[float]
    upper: list[float]
    level: float
    last_close: float
    timestamp: int
    model: str


class OptimizeRequest(_Strict):
    user_id: str = Field(min_length=1, max_length=128)
    portfolio: dict[str, float] = Field(description="Value held in each asset (dollars).", examples=[{"BTC": 50000}])
    risk_tolerance: float = Field(ge=0.0, le=1.0)
    time_to_goal: int = Field(ge=1, le=1200, description="Months.")
    strategy: str | None = Field(None, min_length=1, max_length=64, description="dqn (default) or forecast.")

    @field_validator("portfolio")
    @classmethod
    def _tradable(cls, value: dict[str, float]) -> dict[str, float]:
        value = _check_portfolio(value)
        if sum(value.values()) < MIN_OPTIMIZE_VALUE:
            raise ValueError(f"the values add up to {sum(value.values()):.6g}; a portfolio to optimise holds at "
                             f"least {MIN_OPTIMIZE_VALUE} (a cent) in all")  # fmt: skip
        return value


class Trade(BaseModel):
    asset: str
    action: str
    percentage: float = Field(description="SELL: percent of the asset's holding; BUY: percent of the cash held after "
                                          "this recommendation's sells.")  # fmt: skip


class RiskRequest(_Strict):
    portfolio: dict[str, float]

    _portfolio = field_validator("portfolio")(_check_portfolio)


class RiskResponse(BaseModel):
    risk_score: float
    volatility: float
    sharpe_ratio: float
    max_drawdown: float
    recommendations: list[str]
    window_days: int


class OptimizeResponse(BaseModel):
    action: str
    recommendations: list[Trade]
    confidence: float
    risk_assessment: RiskResponse
    strategy: str
    note: str | None = Field(default=None, description="Trades left out as they move nothing in this portfolio "
                                                        "(a sell of what is not held, a buy with no cash).")  # fmt: skip


class Health(BaseModel):
    status: str
    version: str
    ready: bool = Field(
        description="Serving: true exactly when the answer is a 200 (the models loaded, the market "
        "feed moving, the rate-limit store answering and some forecast possible today)."
    )
    models_loaded: bool = Field(description="The registered models are loaded (ready may still be false: see status).")
    uptime_s: float
    models: dict[str, str]
    optimize_default: str
    market: str
    day: int
    date: str


__all__ = [
    "Health",
    "OptimizeRequest",
    "OptimizeResponse",
    "PriceRequest",
    "PriceResponse",
    "RiskRequest",
    "RiskResponse",
    "Trade",
]
