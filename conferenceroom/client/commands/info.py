"""info commands (being written)."""
