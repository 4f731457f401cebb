"""Alerts raised by monitoring, persisted and de-duplicated (see models.py)."""
