"""channel commands (being written)."""
