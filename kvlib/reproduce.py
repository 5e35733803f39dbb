"""Deprecated location of the figure registry: see :mod:`kvlib.figures.registry`.

Kept so that ``from kvlib.reproduce import register`` keeps working while chapter modules
move to ``kvlib.figures.registry``; the names here are the same objects.
"""
from kvlib.figures.registry import Figure, _jsonable, figures, register, reproduce  # noqa: F401

__all__ = ["register", "figures", "reproduce", "Figure"]
