"""Offline reports for the CLI: the figures behind ``status``/``breakeven``/``margin``/``cost`` and the
``backtest`` of the alerts engine over a daily history."""
