"""message commands (being written)."""
