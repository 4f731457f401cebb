"""Data exchange: reading department feeds and registry rosters (FEEDS.md)."""
