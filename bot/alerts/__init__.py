"""Pure alert rules: the network regime, Hash Ribbons events, retargets and per-chat thresholds."""
