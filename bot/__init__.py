"""minerwatch: the miner-economics engine, sources, alerts and transports."""
