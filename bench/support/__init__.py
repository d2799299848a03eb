"""Helpers shared by benchmarks (not benchmarks themselves)."""
