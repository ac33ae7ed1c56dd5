"""admin commands (being written)."""
