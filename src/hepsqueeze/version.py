"""The package version, in a module of its own so that any layer may read it without importing the API."""

from typing import Final

__version__: Final = "0.1.0"
