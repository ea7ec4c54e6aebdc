"""PyMC model builders: validated data in, a PyMC model with named dims out.

One builder per model; sampling, diagnostics and saving live in :mod:`bayes_atlas.inference`.
PyMC is imported only when a builder is called.
"""

from __future__ import annotations

__all__ = ["transfer"]
