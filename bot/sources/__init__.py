"""Upstream clients, one module per API (reference/apis.md), and ``aggregate`` which combines them.

Callers normally use ``bot.sources.aggregate``: ``fetch_price``, ``fetch_network``, ``fetch_snapshot`` and
``fetch_price_history``; ``bot.sources.http`` holds the shared fetch helper, ``SourceError`` and the bounds.
"""
