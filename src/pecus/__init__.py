"""Pecus Chain: early warning of mastitis from milking-robot data."""

__version__ = "0.1.0"
