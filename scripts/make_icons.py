"""Draw the site's icons once (the results are committed): a red square with a white 黄.

    .venv/bin/python scripts/make_icons.py [FONT]

FONT is a CJK font file with 黄 (default: Debian's fonts-noto-cjk Noto Serif CJK Bold). Writes
themes/default/static/favicon.ico (16, 32 and 48 px) and apple-touch-icon.png (180 px).
"""
from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

RED = (200, 22, 29)  # #c8161d, the red of government sites' headers
WHITE = (255, 255, 255)
FONT = "/usr/share/fonts/opentype/noto/NotoSerifCJK-Bold.ttc"
STATIC = Path(__file__).resolve().parent.parent / "themes" / "default" / "static"


def icon(size: int, font_path: str) -> Image.Image:
    """Drawn at 8x and reduced, so that the small sizes are smooth."""
    big = size * 8
    image = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((0, 0, big - 1, big - 1), radius=big // 8, fill=RED)
    font = ImageFont.truetype(font_path, int(big * 0.8), index=2)  # the .ttc's SC face
    left, top, right, bottom = draw.textbbox((0, 0), "黄", font=font)
    draw.text(((big - (right - left)) / 2 - left, (big - (bottom - top)) / 2 - top), "黄", font=font, fill=WHITE)
    return image.resize((size, size), Image.LANCZOS)


def main() -> None:
    font_path = sys.argv[1] if len(sys.argv) > 1 else FONT
    sizes = (16, 32, 48)
    icon(48, font_path).save(STATIC / "favicon.ico", sizes=[(s, s) for s in sizes],
                             append_images=[icon(s, font_path) for s in sizes[:-1]])
    touch = Image.new("RGB", (180, 180), RED)  # iOS draws its own rounded corners, on no transparency
    touch.paste(icon(180, font_path), (0, 0), icon(180, font_path))
    touch.save(STATIC / "apple-touch-icon.png", optimize=True)


if __name__ == "__main__":
    main()
