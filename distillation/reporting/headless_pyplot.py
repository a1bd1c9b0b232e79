"""Matplotlib, set up in one place for every picture the project draws.

Stages and reports run without a screen, so the backend is Agg; import ``pyplot`` from here
(inside the function that draws, where importing matplotlib should wait until needed).
"""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as pyplot  # noqa: E402  (after the backend is chosen)

__all__ = ["pyplot"]
