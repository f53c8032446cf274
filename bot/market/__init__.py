"""The market as minerwatch knows it: the latest figures (``view``), live polling, first-start backfill and
the offline replay of the shipped history."""
