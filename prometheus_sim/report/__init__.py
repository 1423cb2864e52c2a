"""Rendering of results people read: plots now, Markdown/HTML/JSON reports with the backtest."""
