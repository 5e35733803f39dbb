"""Figure functions, one module per chapter, registered with :func:`kvlib.figures.registry.register`.

Each module here is imported by ``python -m kvlib list`` / ``reproduce``; a
figure function takes ``(device, progress=True, **settings)`` and returns
``(matplotlib.figure.Figure, dict)``. The computation itself lives in the
chapter's kvlib module; these functions only call it and draw.
"""
