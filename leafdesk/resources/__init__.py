"""Files LeafDesk ships inside its package, read through `importlib.resources`.

Going through `importlib.resources` rather than paths next to the source keeps these files found
in every form LeafDesk runs in: a source checkout, an installed wheel and a PyInstaller bundle.
The icons are made by `packaging/make_icons.py` from the one source image in `resources/`.
"""

from __future__ import annotations

from importlib import resources

# The sizes `packaging/make_icons.py` writes; a test checks that every one is present.
APP_ICON_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)


def app_icon_png(size: int) -> bytes:
    """Return the app icon of `size` pixels square as PNG data.

    Raises ValueError for a size that is not in APP_ICON_SIZES.
    """
    if size not in APP_ICON_SIZES:
        raise ValueError(f"no app icon of {size} px; available sizes: {APP_ICON_SIZES}")
    return resources.files(__name__).joinpath("icons", f"leafdesk-{size}.png").read_bytes()


def app_icon_pngs() -> dict[int, bytes]:
    """Return every app icon size as PNG data, keyed by its size in pixels.

    The window adds each one to a QIcon so that Qt picks the closest size for the title bar, the
    taskbar and the Dock.
    """
    return {size: app_icon_png(size) for size in APP_ICON_SIZES}


__all__ = ["APP_ICON_SIZES", "app_icon_png", "app_icon_pngs"]
