#!/usr/bin/env python3
"""Make every icon file LeafDesk ships from the one source image, `resources/leafdesk-icon.png`.

Outputs, all committed so that a build needs no image tools:
- `resources/leafdesk.ico` for the Windows executable and installer, 16 to 256 px;
- `resources/leafdesk.icns` for the macOS app bundle, 16 to 1024 px;
- `leafdesk/resources/icons/leafdesk-<size>.png`, which the window loads through
  `importlib.resources` for its window and taskbar icon.

Usage: python packaging/make_icons.py  (run it again after changing the source image)
"""

from __future__ import annotations

import argparse
import io
import struct
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL import Image

REPO_ROOT = Path(__file__).resolve().parent.parent
SOURCE = REPO_ROOT / "resources" / "leafdesk-icon.png"
ICO_PATH = REPO_ROOT / "resources" / "leafdesk.ico"
ICNS_PATH = REPO_ROOT / "resources" / "leafdesk.icns"
PNG_FOLDER = REPO_ROOT / "leafdesk" / "resources" / "icons"

# Windows picks among these for the title bar (16), taskbar (24-32), Explorer views (48-256).
ICO_SIZES = (16, 20, 24, 32, 40, 48, 64, 96, 128, 256)
# ICNS entry types that hold PNG data (macOS 10.7 and later), with the pixel size of each. The
# "@2x" types repeat a pixel size for Retina screens: ic11 is the 16 pt icon drawn at 32 px.
ICNS_TYPES = (
    (b"icp4", 16), (b"icp5", 32), (b"icp6", 64), (b"ic07", 128), (b"ic08", 256),
    (b"ic09", 512), (b"ic10", 1024), (b"ic11", 32), (b"ic12", 64), (b"ic13", 256),
    (b"ic14", 512),
)
# The sizes Qt may ask for when it draws the window icon on each platform.
PNG_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)


def _pillow():
    # Imported on use, so that the size tables above load without Pillow (the tests read them).
    try:
        from PIL import Image
    except ModuleNotFoundError:
        raise SystemExit("Pillow is missing: install it with pip install -e '.[packaging]'")
    return Image


def _resized(source: Image.Image, size: int) -> Image.Image:
    return source.resize((size, size), _pillow().Resampling.LANCZOS)


def _png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def write_icns(source: Image.Image, path: Path) -> None:
    """Write an ICNS file with a PNG entry for every type in ICNS_TYPES, and its table of contents.

    Pillow's own ICNS writer (version 13) leaves out the 16, 32 and 64 px standard-resolution
    types, so the container is written here. It is a big-endian "icns" header with the file
    length, then per entry its 4-byte type, its length including that 8-byte header, and the PNG.
    """
    entries = [(kind, _png_bytes(_resized(source, size))) for kind, size in ICNS_TYPES]
    toc = b"".join(kind + struct.pack(">I", 8 + len(data)) for kind, data in entries)
    body = b"TOC " + struct.pack(">I", 8 + len(toc)) + toc
    body += b"".join(kind + struct.pack(">I", 8 + len(data)) + data for kind, data in entries)
    path.write_bytes(b"icns" + struct.pack(">I", 8 + len(body)) + body)


def make_icons(source_path: Path = SOURCE) -> list[Path]:
    """Write the .ico, the .icns and the runtime PNGs; return the paths written."""
    source = _pillow().open(source_path).convert("RGBA")
    if source.size != (1024, 1024):
        raise SystemExit(f"{source_path} is {source.size[0]}x{source.size[1]}; expected 1024x1024")

    written: list[Path] = []

    # Each ICO entry is resized here rather than by Pillow's ICO writer, so every size gets the
    # same Lanczos filter as the PNGs.
    largest = _resized(source, max(ICO_SIZES))
    largest.save(ICO_PATH, format="ICO", sizes=[(s, s) for s in ICO_SIZES],
                 append_images=[_resized(source, s) for s in ICO_SIZES])
    written.append(ICO_PATH)

    write_icns(source, ICNS_PATH)
    written.append(ICNS_PATH)

    PNG_FOLDER.mkdir(parents=True, exist_ok=True)
    for size in PNG_SIZES:
        path = PNG_FOLDER / f"leafdesk-{size}.png"
        _resized(source, size).save(path, optimize=True)
        written.append(path)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=SOURCE,
                        help=f"the 1024x1024 source PNG (default: {SOURCE})")
    arguments = parser.parse_args()

    for path in make_icons(arguments.source):
        print(f"wrote {path.relative_to(REPO_ROOT)}")


if __name__ == "__main__":
    main()
