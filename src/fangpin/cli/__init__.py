"""Command-line interface (thin adapter over the domain packages)."""
