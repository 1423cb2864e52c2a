"""Strategies: plain objects that turn a Snapshot into a Recommendation.

The Strategy protocol, the baselines and the name registry arrive with the backtesting issue;
strategies import from ``prometheus_sim`` and never from ``adapters``.
"""
