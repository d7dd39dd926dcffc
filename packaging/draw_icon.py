#!/usr/bin/env python3
"""Draw LeafDesk's app icon, a leaf over planted field rows, as the 1024 px source PNG.

The result is `resources/leafdesk-icon.png`, the one source image that `make_icons.py` turns into
the .ico, the .icns and the PNGs the window loads. Drawing happens at four times the final size
and is scaled down once, which gives smooth edges without an antialiasing library.

Usage: python packaging/draw_icon.py [--output PATH]
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from PIL import Image, ImageChops, ImageDraw, ImageFilter

SIZE = 1024
SUPERSAMPLE = 4
CANVAS = SIZE * SUPERSAMPLE

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = REPO_ROOT / "resources" / "leafdesk-icon.png"

# Palette: a pale morning sky, dark soil, crop rows and a leaf two greens apart from the rows so
# that the leaf is still distinct at 16 px.
SKY_TOP = (226, 242, 231)
SKY_HORIZON = (196, 226, 204)
SOIL_NEAR = (92, 62, 38)
SOIL_FAR = (128, 92, 60)
ROW_NEAR = (74, 140, 64)
ROW_FAR = (122, 176, 104)
LEAF_LIGHT = (92, 196, 96)
LEAF_DARK = (22, 112, 60)
VEIN = (214, 244, 206)

# Geometry in fractions of the canvas.
MARGIN = 0.055          # room around the tile, so macOS and Windows shadows are not clipped
CORNER = 0.20           # corner radius of the tile, as a fraction of its side
HORIZON = 0.60          # where the field meets the sky
VANISHING_X = 0.5
ROW_COUNT = 9


def _scale(fraction: float) -> int:
    return round(fraction * CANVAS)


def _vertical_gradient(size: tuple[int, int], top: tuple[int, int, int],
                       bottom: tuple[int, int, int]) -> Image.Image:
    """Make an RGB image that fades from `top` to `bottom` down its height."""
    width, height = size
    column = Image.new("RGB", (1, height))
    for y in range(height):
        t = y / max(height - 1, 1)
        column.putpixel((0, y), tuple(round(a + (b - a) * t) for a, b in zip(top, bottom)))
    return column.resize((width, height))


def _tile_mask() -> Image.Image:
    mask = Image.new("L", (CANVAS, CANVAS), 0)
    inset = _scale(MARGIN)
    side = CANVAS - 2 * inset
    ImageDraw.Draw(mask).rounded_rectangle(
        (inset, inset, CANVAS - inset, CANVAS - inset), radius=round(side * CORNER), fill=255
    )
    return mask


def _draw_field(image: Image.Image) -> None:
    """Paint the soil below the horizon and the crop rows running to the vanishing point."""
    horizon_y = _scale(HORIZON)
    field_height = CANVAS - horizon_y
    soil = _vertical_gradient((CANVAS, field_height), SOIL_FAR, SOIL_NEAR)
    image.paste(soil, (0, horizon_y))

    # Each row is a wedge from a vanishing point above the horizon to a wide base below the canvas
    # edge, clipped to the field, so that the rows look like a planted field seen from the headland.
    rows = Image.new("L", (CANVAS, CANVAS), 0)
    draw = ImageDraw.Draw(rows)
    vanishing = (_scale(VANISHING_X), horizon_y - _scale(0.18))
    spread = CANVAS * 2.2
    row_width = spread / ROW_COUNT * 0.42
    for index in range(ROW_COUNT):
        centre = (index + 0.5) / ROW_COUNT * spread - (spread - CANVAS) / 2
        base_y = CANVAS * 1.05
        draw.polygon(
            [vanishing, (centre - row_width / 2, base_y), (centre + row_width / 2, base_y)],
            fill=255,
        )
    field_only = Image.new("L", (CANVAS, CANVAS), 0)
    ImageDraw.Draw(field_only).rectangle((0, horizon_y, CANVAS, CANVAS), fill=255)
    rows = ImageChops.multiply(rows, field_only)

    green = Image.new("RGB", (CANVAS, CANVAS))
    green.paste(_vertical_gradient((CANVAS, field_height), ROW_FAR, ROW_NEAR), (0, horizon_y))
    image.paste(green, (0, 0), rows)

    # A thin light band at the horizon keeps the sky and field apart at small sizes.
    ImageDraw.Draw(image).rectangle(
        (0, horizon_y - _scale(0.004), CANVAS, horizon_y + _scale(0.004)), fill=SKY_HORIZON
    )


def _leaf_outline(centre: tuple[float, float], length: float, width: float,
                  angle_degrees: float, bend: float) -> list[tuple[float, float]]:
    """Return the polygon of a leaf: a pointed blade whose midrib bends slightly.

    The half-width along the blade follows sin(pi*t) raised to a power below one, which gives a
    full middle and pointed ends. `bend` shifts the midrib sideways as a parabola.
    """
    steps = 240
    left: list[tuple[float, float]] = []
    right: list[tuple[float, float]] = []
    for step in range(steps + 1):
        t = step / steps
        along = (t - 0.5) * length
        midrib = bend * length * (t * (1 - t)) * 4 * 0.5
        half = width / 2 * math.sin(math.pi * t) ** 0.75
        # A leaf is fuller towards the stem end.
        half *= 1.0 + 0.18 * (1 - t)
        left.append((along, midrib - half))
        right.append((along, midrib + half))
    points = left + right[::-1]
    return [_rotate(point, angle_degrees, centre) for point in points]


def _midrib(centre: tuple[float, float], length: float, angle_degrees: float, bend: float,
            start: float = 0.0, end: float = 1.0, steps: int = 100) -> list[tuple[float, float]]:
    points = []
    for step in range(steps + 1):
        t = start + (end - start) * step / steps
        along = (t - 0.5) * length
        points.append((along, bend * length * (t * (1 - t)) * 4 * 0.5))
    return [_rotate(point, angle_degrees, centre) for point in points]


def _rotate(point: tuple[float, float], angle_degrees: float,
            centre: tuple[float, float]) -> tuple[float, float]:
    angle = math.radians(angle_degrees)
    x, y = point
    return (
        centre[0] + x * math.cos(angle) - y * math.sin(angle),
        centre[1] + x * math.sin(angle) + y * math.cos(angle),
    )


def _draw_leaf(image: Image.Image) -> None:
    """Paint the leaf with a soft shadow, a two-tone fill, a midrib and side veins."""
    centre = (CANVAS * 0.52, CANVAS * 0.44)
    length = CANVAS * 0.74
    width = CANVAS * 0.36
    # Pointing up and to the right, stem at the lower left.
    angle = -48.0
    bend = -0.10
    outline = _leaf_outline(centre, length, width, angle, bend)

    shadow = Image.new("L", (CANVAS, CANVAS), 0)
    offset = _scale(0.018)
    ImageDraw.Draw(shadow).polygon([(x + offset, y + offset * 1.5) for x, y in outline], fill=110)
    shadow = shadow.filter(ImageFilter.GaussianBlur(_scale(0.02)))
    image.paste(Image.new("RGB", image.size, (20, 40, 24)), (0, 0), shadow)

    mask = Image.new("L", (CANVAS, CANVAS), 0)
    ImageDraw.Draw(mask).polygon(outline, fill=255)

    # Light from the upper left: a diagonal gradient across the leaf.
    fill = _vertical_gradient((CANVAS, CANVAS), LEAF_LIGHT, LEAF_DARK).rotate(35, expand=False)
    image.paste(fill, (0, 0), mask)

    # The far half of the blade is a shade darker, as a real leaf folds along its midrib.
    shade = Image.new("L", (CANVAS, CANVAS), 0)
    far_half = _midrib(centre, length, angle, bend) + _leaf_outline(
        centre, length, width, angle, bend
    )[: 241][::-1]
    ImageDraw.Draw(shade).polygon(far_half, fill=60)
    shade = ImageChops.multiply(shade, mask)
    image.paste(Image.new("RGB", image.size, LEAF_DARK), (0, 0), shade)

    draw = ImageDraw.Draw(image)
    rib_width = _scale(0.016)
    draw.line(_midrib(centre, length, angle, bend, 0.02, 0.93), fill=VEIN, width=rib_width,
              joint="curve")

    # Side veins leave the midrib towards the tip and curve outwards, on both sides.
    for t in (0.26, 0.40, 0.54, 0.68):
        along = (t - 0.5) * length
        rib_offset = bend * length * (t * (1 - t)) * 4 * 0.5
        reach = width * 0.36 * math.sin(math.pi * t) ** 0.6
        for side in (-1, 1):
            vein = []
            for step in range(13):
                u = step / 12
                vein.append(_rotate(
                    (along + reach * 0.75 * u ** 0.8, rib_offset + side * reach * u ** 1.3),
                    angle, centre,
                ))
            draw.line(vein, fill=VEIN, width=round(rib_width * 0.5))

    # The stem continues the midrib past the base of the blade.
    stem = _midrib(centre, length, angle, bend, -0.12, 0.03, steps=6)
    draw.line(stem, fill=LEAF_DARK, width=round(rib_width * 1.4))


def draw_icon() -> Image.Image:
    """Draw the icon and return it as a SIZE x SIZE RGBA image."""
    image = Image.new("RGB", (CANVAS, CANVAS))
    horizon_y = _scale(HORIZON)
    image.paste(_vertical_gradient((CANVAS, horizon_y), SKY_TOP, SKY_HORIZON), (0, 0))
    _draw_field(image)
    _draw_leaf(image)

    tile = Image.new("RGBA", (CANVAS, CANVAS), (0, 0, 0, 0))
    tile.paste(image, (0, 0), _tile_mask())
    return tile.resize((SIZE, SIZE), Image.Resampling.LANCZOS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT,
                        help=f"where to write the PNG (default: {DEFAULT_OUTPUT})")
    arguments = parser.parse_args()

    arguments.output.parent.mkdir(parents=True, exist_ok=True)
    draw_icon().save(arguments.output, optimize=True)
    print(f"wrote {arguments.output} ({SIZE}x{SIZE})")


if __name__ == "__main__":
    main()
