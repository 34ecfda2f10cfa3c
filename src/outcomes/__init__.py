"""outcomes: check vertebral augmentation outcomes against the figures a clinic publishes."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
