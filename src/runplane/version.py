"""runplane's version, importable without loading agents or the engine."""

__version__ = "0.1.0"
