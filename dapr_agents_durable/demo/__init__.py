"""The crash-and-resume demo behind ``dapr-agents-durable demo``."""
