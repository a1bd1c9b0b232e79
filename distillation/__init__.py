"""Shared library for the knowledge-distillation pipeline.

Stages in ``stages/`` import from here; nothing here imports from ``stages/``.
"""
