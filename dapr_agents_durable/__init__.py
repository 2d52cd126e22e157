"""dapr-agents-durable: make existing AI-agent apps crash-proof on Dapr Workflows."""

__version__ = "0.1.0"
