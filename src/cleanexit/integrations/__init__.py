"""Thin adapters from the framework-free core to web frameworks."""
