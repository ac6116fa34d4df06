"""The compose loader."""
