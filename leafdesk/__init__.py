"""LeafDesk: connect growers' Precision Planting Panorama accounts to Leaf users, and watch them."""

from __future__ import annotations

from functools import cache

__all__ = ["__version__"]


def __getattr__(name: str) -> str:
    # The version is looked up on first use: importlib.metadata scans the installed
    # distributions, which costs about 18 ms that the window's first paint should not wait for.
    if name == "__version__":
        return _installed_version()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@cache
def _installed_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("leafdesk")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "0.0.0"
