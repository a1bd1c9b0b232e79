"""Exported files, their runtimes and their model cards."""
