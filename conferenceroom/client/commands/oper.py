"""oper commands (being written)."""
