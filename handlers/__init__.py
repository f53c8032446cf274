"""Platform-neutral chat command handlers."""
