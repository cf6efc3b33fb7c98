"""The demo's pictures: small county scenes drawn with Pillow (田野, 江堤, 道路, 校园, 园区, 禅寺).

Drawn at demo time rather than kept as files: the repository holds no binaries, and the same code
gives the same bytes on every run (no random state; Pillow's JPEG encoder is deterministic), so
the blob store keeps one copy of each however often the demo runs. Each is an 800×450 JPEG of
12-30 KB that goes through the normal upload path (portal.uploads: checked, re-encoded, scaled).
"""
from __future__ import annotations

import io
from typing import Callable

from PIL import Image, ImageDraw, ImageFilter

WIDTH, HEIGHT = 800, 450
HORIZON = 200
Colour = tuple[int, int, int]
Scene = Callable[[ImageDraw.ImageDraw], None]


def _mix(a: Colour, b: Colour, t: float) -> Colour:
    return (round(a[0] + (b[0] - a[0]) * t), round(a[1] + (b[1] - a[1]) * t), round(a[2] + (b[2] - a[2]) * t))


def _gradient(draw: ImageDraw.ImageDraw, top: int, bottom: int, start: Colour, end: Colour) -> None:
    span = max(bottom - top - 1, 1)
    for y in range(top, bottom):
        draw.line([(0, y), (WIDTH, y)], fill=_mix(start, end, (y - top) / span))


def _sky(draw: ImageDraw.ImageDraw, horizon: int = HORIZON) -> None:
    _gradient(draw, 0, horizon, (96, 150, 212), (214, 230, 242))


def _hills(draw: ImageDraw.ImageDraw, base: int, colour: Colour, peaks: list[tuple[int, int]]) -> None:
    draw.polygon([(0, base), *peaks, (WIDTH, base)], fill=colour)


def _tree(draw: ImageDraw.ImageDraw, x: int, y: int, size: int, leaves: Colour = (52, 110, 58)) -> None:
    draw.rectangle([x - size // 8, y - size, x + size // 8, y], fill=(96, 70, 48))
    draw.ellipse([x - size // 2, y - size * 2, x + size // 2, y - size * 3 // 4], fill=leaves)


def fields(draw: ImageDraw.ImageDraw) -> None:
    """Rape and wheat fields in strips towards the hills, a farmhouse."""
    _sky(draw)
    draw.ellipse([620, 40, 680, 100], fill=(255, 244, 200))
    _hills(draw, HORIZON, (120, 150, 130), [(0, 170), (160, 140), (330, 172), (520, 130), (700, 165), (800, 150)])
    draw.rectangle([0, HORIZON, WIDTH, HEIGHT], fill=(84, 146, 66))
    colours = [(214, 190, 60), (96, 160, 70), (232, 206, 72), (120, 176, 84), (200, 178, 64), (84, 146, 66)]
    for i in range(8):  # strips converging to a vanishing point above the horizon
        x0, x1 = -1000 + i * 300, -1000 + (i + 1) * 300
        draw.polygon([(x0, HEIGHT), (x1, HEIGHT), (400 + (x1 - 400) // 6, HORIZON), (400 + (x0 - 400) // 6, HORIZON)],
                     fill=colours[i % len(colours)])
    draw.rectangle([560, 168, 640, 206], fill=(236, 236, 228))
    draw.polygon([(550, 170), (600, 146), (650, 170)], fill=(70, 74, 86))
    draw.rectangle([592, 184, 608, 206], fill=(110, 84, 60))
    for x in (470, 500, 690, 720):
        _tree(draw, x, 206, 22)


def levee(draw: ImageDraw.ImageDraw) -> None:
    """The Yangtze embankment: the river, the levee with its road, a row of trees."""
    _sky(draw, 180)
    _hills(draw, 180, (150, 170, 180), [(0, 168), (250, 150), (480, 166), (800, 152)])
    _gradient(draw, 180, 290, (110, 150, 178), (78, 118, 150))
    for y in range(196, 290, 18):
        draw.line([(60 + y, y), (260 + y, y)], fill=(150, 184, 206), width=2)
    draw.polygon([(0, 290), (WIDTH, 270), (WIDTH, HEIGHT), (0, HEIGHT)], fill=(96, 150, 80))
    draw.polygon([(0, 330), (WIDTH, 300), (WIDTH, 318), (0, 352)], fill=(150, 150, 146))
    draw.polygon([(0, 352), (WIDTH, 318), (WIDTH, 326), (0, 362)], fill=(120, 120, 118))
    for i in range(9):
        _tree(draw, 40 + i * 92, 332 - i * 3, 30, (60, 124, 60))


def road(draw: ImageDraw.ImageDraw) -> None:
    """A new county road in perspective, lamps, the town at the horizon."""
    _sky(draw)
    for x, w, h in ((330, 40, 60), (372, 30, 84), (405, 46, 52), (300, 28, 40), (455, 34, 70)):
        draw.rectangle([x, HORIZON - h, x + w, HORIZON], fill=(176, 182, 192))
    draw.rectangle([0, HORIZON, WIDTH, HEIGHT], fill=(104, 160, 84))
    draw.polygon([(380, HORIZON), (420, HORIZON), (760, HEIGHT), (40, HEIGHT)], fill=(82, 86, 92))
    draw.line([(384, HORIZON), (80, HEIGHT)], fill=(236, 236, 236), width=4)
    draw.line([(416, HORIZON), (720, HEIGHT)], fill=(236, 236, 236), width=4)
    for i in range(7):  # the dashed centre line, longer towards the viewer
        t0, t1 = (i / 7) ** 1.6, ((i + 0.5) / 7) ** 1.6
        draw.line([(400, HORIZON + t0 * (HEIGHT - HORIZON)), (400, HORIZON + t1 * (HEIGHT - HORIZON))],
                  fill=(240, 210, 80), width=max(2, int(8 * t1)))
    for t in (0.15, 0.35, 0.6, 0.95):
        for side in (-1, 1):
            x = 400 + side * (30 + t * 420)
            y = HORIZON + t * (HEIGHT - HORIZON)
            draw.line([(x, y), (x, y - 30 - t * 120)], fill=(70, 74, 80), width=max(2, int(5 * t)))
            draw.line([(x, y - 30 - t * 120), (x - side * (6 + 24 * t), y - 30 - t * 120)], fill=(70, 74, 80),
                      width=max(2, int(5 * t)))


def campus(draw: ImageDraw.ImageDraw) -> None:
    """A school: the teaching building, the flag, the red running track."""
    _sky(draw)
    draw.rectangle([0, HORIZON, WIDTH, HEIGHT], fill=(104, 164, 90))
    draw.rectangle([150, 90, 650, HORIZON + 20], fill=(236, 228, 214))
    draw.rectangle([150, 82, 650, 92], fill=(176, 70, 60))
    for row in range(4):
        for col in range(12):
            x, y = 170 + col * 40, 104 + row * 28
            if 5 <= col <= 6 and row == 3:
                continue
            draw.rectangle([x, y, x + 22, y + 16], fill=(120, 160, 196))
    draw.rectangle([370, 188, 430, HORIZON + 20], fill=(120, 84, 62))
    draw.line([(720, 230), (720, 70)], fill=(200, 200, 200), width=4)
    draw.rectangle([722, 72, 772, 104], fill=(214, 40, 40))
    draw.ellipse([80, 250, 720, 440], fill=(186, 80, 64))
    draw.ellipse([150, 285, 650, 405], fill=(90, 160, 80))
    for inset in (10, 20):
        draw.ellipse([80 + inset * 2, 250 + inset, 720 - inset * 2, 440 - inset], outline=(236, 220, 210), width=2)


def park(draw: ImageDraw.ImageDraw) -> None:
    """The development zone: new factory halls, a crane, the access road."""
    _sky(draw)
    draw.rectangle([0, HORIZON, WIDTH, HEIGHT], fill=(170, 176, 168))
    halls = ((40, 220, 70, (70, 120, 176)), (290, 260, 96, (60, 100, 150)), (580, 190, 76, (80, 130, 180)))
    for x, w, h, roof in halls:
        top = HORIZON + 40 - h
        draw.rectangle([x, top, x + w, HORIZON + 40], fill=(226, 230, 234))
        draw.polygon([(x - 6, top), (x + w // 2, top - 18), (x + w + 6, top)], fill=roof)
        for wx in range(x + 14, x + w - 20, 34):
            draw.rectangle([wx, HORIZON + 10 - h // 2, wx + 20, HORIZON + 22 - h // 2], fill=(150, 178, 204))
    draw.line([(700, HORIZON + 40), (700, 40)], fill=(230, 170, 40), width=6)
    draw.line([(560, 52), (780, 52)], fill=(230, 170, 40), width=5)
    draw.line([(600, 52), (600, 110)], fill=(60, 60, 60), width=2)
    draw.polygon([(0, HEIGHT), (300, HORIZON + 40), (500, HORIZON + 40), (WIDTH, HEIGHT)], fill=(92, 96, 102))
    draw.rectangle([0, HORIZON + 40, WIDTH, HORIZON + 52], fill=(110, 168, 92))


def temple(draw: ImageDraw.ImageDraw) -> None:
    """Misty hills and a pagoda among trees (东山, the Fifth Patriarch's mountain)."""
    _gradient(draw, 0, HEIGHT, (190, 208, 214), (236, 236, 226))
    _hills(draw, HEIGHT, (150, 176, 160), [(0, 230), (180, 160), (360, 220), (560, 120), (800, 210)])
    _hills(draw, HEIGHT, (98, 140, 110), [(0, 300), (220, 240), (420, 290), (640, 230), (800, 280)])
    x, base = 560, 250
    for level in range(7):  # seven storeys, each narrower
        w = 46 - level * 5
        y = base - level * 22
        draw.rectangle([x - w // 2, y - 16, x + w // 2, y], fill=(196, 180, 150))
        draw.polygon([(x - w // 2 - 10, y - 14), (x, y - 24), (x + w // 2 + 10, y - 14)], fill=(70, 66, 62))
    draw.line([(x, base - 154), (x, base - 176)], fill=(70, 66, 62), width=3)
    _hills(draw, HEIGHT, (60, 104, 70), [(0, 360), (260, 320), (520, 356), (800, 330)])
    for i in range(10):
        _tree(draw, 30 + i * 84, 372 - (i % 3) * 10, 26, (44, 92, 54))


SCENES: dict[str, Scene] = {"fields": fields, "levee": levee, "road": road, "campus": campus, "park": park,
                            "temple": temple}


def picture(name: str) -> bytes:
    """The scene `name` as JPEG bytes (the same bytes on every call)."""
    image = Image.new("RGB", (WIDTH, HEIGHT))
    SCENES[name](ImageDraw.Draw(image))
    image = image.filter(ImageFilter.SMOOTH)  # softer edges: a photo's look, and smaller files
    out = io.BytesIO()
    image.save(out, "JPEG", quality=80, optimize=True)
    return out.getvalue()
