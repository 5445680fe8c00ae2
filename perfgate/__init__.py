"""perfgate: measure a change, test it, keep it only if it earned it."""

__version__ = "0.1.0"
