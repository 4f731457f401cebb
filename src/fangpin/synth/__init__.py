"""Synthetic data for fangpin: a realistic rural county (people, households, names) for tests and benchmarks."""
