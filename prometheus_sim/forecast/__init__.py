"""The forecaster: y(t+h) = f(y(t-w..t), X(t-w..t), C(t)), w = 30 days, h = 1..7 (the guide's formula).

:mod:`model` holds the LSTM + Transformer network, :mod:`data` the windows, scaler and splits,
:mod:`train` the training run (MLflow-logged), :mod:`predictor` the registry-loaded predictor,
:mod:`baselines` the naive forecasts every score is measured against, :mod:`evaluate` the
out-of-sample scoring, :mod:`oracle` the best forecast the generating process allows.
Nothing here is imported by the simulator or the backtester: torch loads only when used.
"""
