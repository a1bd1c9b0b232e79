"""Rendering records and metrics into tables, charts and the docs' blocks."""
