"""Platform adapters: each turns updates into handler calls and implements the outbox Notifier."""
