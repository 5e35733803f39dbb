"""Chapter 3 rows of the Reproductions page (see :mod:`kvlib.reproductions.registry`)."""
