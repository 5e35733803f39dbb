"""kvlib: key-value memory in brains and machines.

The small library behind the *kv-memory-book*, the executable companion to
Gershman, Fiete & Irie (2025), "Key-value memory in the brain".

Importing ``kvlib`` changes nothing global: no seeding, no warnings filters,
no matplotlib settings, no downloads. Modules are imported on demand::

    from kvlib import kernels, dualform
"""

__version__ = "0.2.0"
__all__ = ["__version__"]
