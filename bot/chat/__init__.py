"""What every conversation shares: who asks (``Chat``), what a command returns (``Reply``), the services a
command may call, the command-set protocol transports are given, and the store-backed implementation."""
