"""Every comparison of the book with a source, computed: the registry behind the Reproductions page.

See :mod:`kvlib.reproductions.registry`; rows are declared per chapter in
``kvlib/reproductions/ch*.py``.
"""
from kvlib.reproductions.registry import (
                                          Expect,
                                          Result,
                                          Row,
                                          approx,
                                          at_least,
                                          at_most,
                                          equals,
                                          experiment,
                                          markdown,
                                          row,
                                          rows,
                                          run,
                                          write,
)

__all__ = ["Expect", "approx", "at_least", "at_most", "equals", "Row", "Result", "experiment",
           "row", "rows", "run", "markdown", "write"]
