"""Adapters: where a strategy's recommendations go (the simulator now, a chain later).

The Adapter protocol and SimAdapter arrive with the backtesting issue; only ``adapters/chain.py``
will import web3.
"""
