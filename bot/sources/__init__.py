"""Upstream clients, one module per API (each names its public API docs), and ``aggregate`` which
combines them.

Callers normally use ``bot.sources.aggregate``: ``fetch_price``, ``fetch_network``, ``fetch_snapshot`` and
``fetch_price_history``; ``bot.sources.http`` holds the shared fetch helper, ``SourceError`` and the bounds.
"""
