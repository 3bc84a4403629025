"""Thin adapters from the framework-free core to web frameworks."""

__all__: list[str] = []
