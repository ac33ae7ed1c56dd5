"""query commands (being written)."""
