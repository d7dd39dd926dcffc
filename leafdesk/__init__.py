"""LeafDesk: connect growers' Precision Planting Panorama accounts to Leaf users, and watch them."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("leafdesk")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"

__all__ = ["__version__"]
