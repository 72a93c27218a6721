"""gong."""
