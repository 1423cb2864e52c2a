"""The forecaster: y(t+h) = f(y(t-w..t), X(t-w..t), C(t)), w = 30 days, h = 1..7 (the guide's formula).

:mod:`model` holds the LSTM + Transformer network, :mod:`data` the windows, scaler and splits,
:mod:`train` the training run (MLflow-logged), :mod:`predictor` the registry-loaded predictor,
:mod:`baselines` the naive forecasts every score is measured against, :mod:`evaluate` the
out-of-sample scoring, :mod:`oracle` the best forecast the generating process allows.
Nothing here is imported by the simulator or the backtester: torch loads only when used.
"""

# how an evaluation's intervals are taken (forecast.evaluate), in words the report prints too; here, where reading it
# loads no torch
INTERVAL_DEFINITION = (
    "95 % percentile bootstrap over paths (400 draws); over 30-day blocks on a market of fewer than 3 paths; "
    "Student's t over the clusters' own values with fewer than 20 clusters"
)
