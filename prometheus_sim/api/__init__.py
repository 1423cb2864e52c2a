"""The inference API: FastAPI app (:mod:`~prometheus_sim.api.app`), keys, batching and the services behind it.

Imported only by ``prometheus-sim serve`` and ``keys`` (FastAPI and torch stay out of ``import prometheus_sim``).
"""
