"""Operating the bot: the health endpoint, Prometheus metrics, logging and the ``db`` maintenance tools."""
