"""Determinism shims for agent frameworks, one module per framework, each with an ``install()``."""
