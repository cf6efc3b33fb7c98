"""Specification of image validation, clean-up and scaling (portal.images)."""

from __future__ import annotations

import io
import json
import random
import resource
import struct
import subprocess
import sys
import threading
import time
import zlib
from pathlib import Path

import pytest
import transaction
from PIL import Image, PngImagePlugin

from portal import images
from portal.blobs import BlobStore, TransactionalBlobs
from portal.images import SCALES, ImageError, normalize_image, scale_path, scaled

ORIENTATION = 0x0112
MAKE = 0x010F
RED, BLUE = (255, 0, 0), (0, 0, 255)


# --- helpers: images made in memory -----------------------------------------


def encode(im: Image.Image, fmt: str, **params: object) -> bytes:
    out = io.BytesIO()
    im.save(out, fmt, **params)
    return out.getvalue()


def noise(size: tuple[int, int], seed: int = 0) -> Image.Image:
    """Incompressible pixels, so truncating the file really loses image data."""
    return Image.frombytes("RGB", size, random.Random(seed).randbytes(size[0] * size[1] * 3))


def marked_photo(orientation: int) -> bytes:
    """60x40 blue JPEG, red top-left corner, with EXIF orientation, camera
    make and a comment that must not survive normalisation."""
    im = Image.new("RGB", (60, 40), BLUE)
    im.paste(RED, (0, 0, 15, 15))
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    exif[MAKE] = "SecretCam"
    return encode(im, "JPEG", quality=95, exif=exif.tobytes(), comment=b"GPS 30.07N 115.94E")


def close_to(pixel: tuple[int, ...], colour: tuple[int, int, int], tolerance: int = 40) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel, colour))


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def huge_bilevel_png(width: int, height: int) -> bytes:
    """A valid, tiny PNG (1 bit per pixel, all black) of enormous dimensions:
    the classic decompression bomb."""
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    row = b"\0" * (1 + (width + 7) // 8)
    packer = zlib.compressobj(9)
    idat = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")


def with_patched_size(png: bytes, width: int, height: int) -> bytes:
    """Rewrite the IHDR dimensions of a real PNG and fix its CRC."""
    assert png[12:16] == b"IHDR"
    body = struct.pack(">II", width, height) + png[24:29]
    return png[:8] + png_chunk(b"IHDR", body) + png[33:]


def reopen(data: bytes) -> Image.Image:
    im = Image.open(io.BytesIO(data))
    im.load()
    return im


# --- normalize_image: accepted images ---------------------------------------


def test_jpeg_is_turned_upright_and_loses_exif() -> None:
    data, mime, width, height = normalize_image(marked_photo(orientation=6))
    assert mime == "image/jpeg"
    assert (width, height) == (40, 60)  # orientation 6: rotate 90° clockwise
    out = reopen(data)
    assert out.format == "JPEG" and out.size == (40, 60)
    assert close_to(out.getpixel((35, 4)), RED)  # top-left went to top-right
    assert close_to(out.getpixel((4, 4)), BLUE)
    assert len(out.getexif()) == 0
    assert not {"exif", "comment", "xmp"} & set(out.info)
    assert b"Exif\0\0" not in data and b"SecretCam" not in data and b"GPS" not in data


def test_jpeg_without_orientation_keeps_size() -> None:
    data, mime, width, height = normalize_image(encode(noise((50, 30)), "JPEG"))
    assert (mime, width, height) == ("image/jpeg", 50, 30)
    assert reopen(data).size == (50, 30)


def test_png_keeps_alpha_and_drops_text_chunks() -> None:
    im = Image.new("RGBA", (30, 20), (0, 128, 0, 255))
    im.paste((0, 0, 0, 0), (0, 0, 15, 20))
    meta = PngImagePlugin.PngInfo()
    meta.add_text("Author", "张三 13800000000")
    data, mime, width, height = normalize_image(encode(im, "PNG", pnginfo=meta))
    assert (mime, width, height) == ("image/png", 30, 20)
    out = reopen(data)
    assert out.mode == "RGBA"
    assert out.getpixel((2, 2))[3] == 0 and out.getpixel((25, 2))[3] == 255
    assert "Author" not in out.info and "Author".encode() not in data


def test_paletted_png_keeps_transparent_index() -> None:
    im = Image.new("P", (16, 16), 1)
    im.putpalette([255, 255, 255, 200, 0, 0] + [0] * 762)
    im.paste(0, (0, 0, 8, 16))
    data, mime, _, _ = normalize_image(encode(im, "PNG", transparency=0))
    out = reopen(data).convert("RGBA")
    assert mime == "image/png"
    assert out.getpixel((1, 1))[3] == 0 and out.getpixel((12, 1))[3] == 255


def test_animated_gif_keeps_first_frame() -> None:
    frames = [Image.new("P", (20, 10), i) for i in (1, 2)]
    for frame in frames:
        frame.putpalette([0, 0, 0, 255, 0, 0, 0, 0, 255] + [0] * 759)
    gif = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    assert Image.open(io.BytesIO(gif)).n_frames == 2
    data, mime, width, height = normalize_image(gif)
    assert (mime, width, height) == ("image/gif", 20, 10)
    out = Image.open(io.BytesIO(data))
    assert out.format == "GIF" and getattr(out, "n_frames", 1) == 1
    assert close_to(out.convert("RGB").getpixel((5, 5)), RED)


def test_webp_is_accepted() -> None:
    im = Image.new("RGBA", (24, 12), (10, 20, 30, 128))
    data, mime, width, height = normalize_image(encode(im, "WEBP", lossless=True))
    assert (mime, width, height) == ("image/webp", 24, 12)
    assert reopen(data).format == "WEBP"


def test_normalized_output_is_stable() -> None:
    once = normalize_image(marked_photo(orientation=8))
    twice = normalize_image(once[0])
    assert once[1:] == twice[1:]


# --- normalize_image: rejected uploads --------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        random.Random(7).randbytes(4096),
        "关于印发《黄梅县政务公开工作要点》的通知\n".encode() * 20,  # a text file renamed .jpg
        b"\xff\xd8\xff",  # a JPEG signature and nothing else
        b"",
    ],
    ids=["random", "text-as-jpg", "jpeg-magic-only", "empty"],
)
def test_not_an_image(data: bytes) -> None:
    with pytest.raises(ImageError) as info:
        normalize_image(data)
    assert info.value.reason == "not_image"


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_truncated(fmt: str) -> None:
    data = encode(noise((256, 256)), fmt)
    with pytest.raises(ImageError) as info:
        normalize_image(data[: len(data) // 2])
    assert info.value.reason == "truncated"


@pytest.mark.parametrize("fmt", ["BMP", "TIFF", "PPM"])
def test_other_image_formats_are_unsupported(fmt: str) -> None:
    with pytest.raises(ImageError) as info:
        normalize_image(encode(Image.new("RGB", (8, 8)), fmt))
    assert info.value.reason == "unsupported"


def test_image_error_is_a_value_error() -> None:
    assert issubclass(ImageError, ValueError)
    assert ImageError("bomb").reason == "bomb"


def test_bomb_header_rejected_without_decoding() -> None:
    """A 1x1 PNG claiming 20000x20000: its pixel data could not even fill the
    image, so 'bomb' (not 'truncated') proves nothing was decoded."""
    tiny = encode(Image.new("L", (1, 1)), "PNG")
    with pytest.raises(ImageError) as info:
        normalize_image(with_patched_size(tiny, 20000, 20000))
    assert info.value.reason == "bomb"


def test_compressed_bomb_is_not_allocated() -> None:
    bomb = huge_bilevel_png(20000, 20000)  # 400 Mpx in a few dozen kB
    assert len(bomb) < 200_000
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(ImageError) as info:
        normalize_image(bomb)
    assert info.value.reason == "bomb"
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    scale = 1 if sys.platform == "darwin" else 1024  # bytes vs kB
    assert grown * scale < 100_000_000


def test_own_pixel_limit_applies_below_pillow_limit() -> None:
    # 64 Mpx: Pillow's default limit (~89 Mpx) would let it through.
    assert 8000 * 8000 < Image.MAX_IMAGE_PIXELS
    with pytest.raises(ImageError) as info:
        normalize_image(huge_bilevel_png(8000, 8000))
    assert info.value.reason == "bomb"


def test_pillow_bomb_warning_becomes_bomb_error() -> None:
    # 100 Mpx is over Pillow's warning threshold; our own limit is raised out
    # of the way to show the warning itself is turned into an ImageError.
    assert Image.MAX_IMAGE_PIXELS < 10000 * 10000 < 2 * Image.MAX_IMAGE_PIXELS
    with pytest.raises(ImageError) as info:
        normalize_image(huge_bilevel_png(10000, 10000), max_pixels=10**9)
    assert info.value.reason == "bomb"


def test_max_pixels_per_call() -> None:
    data = encode(Image.new("RGB", (100, 100)), "PNG")
    assert normalize_image(data, max_pixels=10_000)[2:] == (100, 100)
    with pytest.raises(ImageError) as info:
        normalize_image(data, max_pixels=9_999)
    assert info.value.reason == "bomb"


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "GIF", "WEBP"])
def test_damaged_files_never_leak_pillow_exceptions(fmt: str) -> None:
    original = encode(noise((48, 32), seed=3).convert("P" if fmt == "GIF" else "RGB"), fmt)
    rng = random.Random(fmt)
    samples = [original[:cut] for cut in range(0, len(original), max(1, len(original) // 60))]
    for _ in range(150):
        damaged = bytearray(original)
        for _ in range(rng.randint(1, 8)):
            damaged[rng.randrange(len(damaged))] = rng.randrange(256)
        samples.append(bytes(damaged))
    for sample in samples:
        try:
            data, mime, width, height = normalize_image(sample)
        except ImageError as exc:
            assert exc.reason in images.REASONS
        else:
            assert mime == images.ALLOWED_FORMATS[fmt] and width > 0 and height > 0
            reopen(data)


# --- scales -----------------------------------------------------------------


@pytest.fixture
def store(tmp_path: Path) -> BlobStore:
    return BlobStore(tmp_path / "blobs")


def put_image(store: BlobStore, im: Image.Image, fmt: str = "JPEG", **params: object) -> str:
    return store.put(encode(im, fmt, **params))[0]


def test_scales_have_the_right_longest_side(store: BlobStore) -> None:
    digest = put_image(store, noise((2000, 1000)))
    expected = {"thumb": (128, 64), "preview": (400, 200), "large": (1024, 512)}
    assert set(SCALES) == set(expected)
    for scale, size in expected.items():
        path = scale_path(store, digest, scale)
        assert path == store.root / "scales" / digest[:2] / f"{digest}-{scale}.jpg"
        with Image.open(path) as im:
            assert im.format == "JPEG" and im.size == size
    assert scaled(store, digest, "thumb") == (store.root / "scales" / digest[:2] / f"{digest}-thumb.jpg", "image/jpeg")
    assert list((store.root / "tmp").iterdir()) == []


def test_portrait_scale(store: BlobStore) -> None:
    digest = put_image(store, noise((600, 1800)), "PNG")
    path, mime = scaled(store, digest, "preview")
    assert mime == "image/png" and path.suffix == ".png"
    with Image.open(path) as im:
        assert im.size == (133, 400)


def test_scale_is_generated_only_once(store: BlobStore, monkeypatch: pytest.MonkeyPatch) -> None:
    digest = put_image(store, noise((900, 600)))
    path = scale_path(store, digest, "thumb")
    first = path.stat()

    def must_not_write(*args: object) -> None:
        raise AssertionError("cached scale was generated again")

    monkeypatch.setattr(images, "_write_atomically", must_not_write)
    assert scale_path(store, digest, "thumb") == path
    second = path.stat()
    assert (second.st_mtime_ns, second.st_ino) == (first.st_mtime_ns, first.st_ino)


def test_small_image_is_never_upscaled(store: BlobStore) -> None:
    digest = put_image(store, noise((100, 80)))
    assert scaled(store, digest, "thumb") == (store.path(digest), "image/jpeg")
    exact = put_image(store, noise((128, 50), seed=1), "PNG")
    assert scaled(store, exact, "thumb") == (store.path(exact), "image/png")
    assert not (store.root / "scales").exists()


def test_scale_keeps_transparency(store: BlobStore) -> None:
    im = Image.new("RGBA", (500, 500), (0, 0, 255, 255))
    im.paste((0, 0, 0, 0), (0, 0, 250, 500))
    path, mime = scaled(store, put_image(store, im, "PNG"), "thumb")
    with Image.open(path) as out:
        assert mime == "image/png" and out.size == (128, 128)
        assert out.mode == "RGBA"
        assert out.getpixel((10, 64))[3] == 0 and out.getpixel((120, 64))[3] == 255


def test_gif_scale_is_png(store: BlobStore) -> None:
    im = Image.new("P", (300, 150), 1)
    im.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    im.paste(0, (0, 0, 150, 150))
    path, mime = scaled(store, put_image(store, im, "GIF", transparency=0), "thumb")
    assert mime == "image/png" and path.name.endswith("-thumb.png")
    with Image.open(path) as out:
        assert out.size == (128, 64)
        rgba = out.convert("RGBA")
        assert rgba.getpixel((10, 30))[3] == 0
        assert close_to(rgba.getpixel((120, 30))[:3], RED)


def test_webp_scale(store: BlobStore) -> None:
    path, mime = scaled(store, put_image(store, noise((800, 400)), "WEBP"), "preview")
    assert mime == "image/webp" and path.suffix == ".webp"
    with Image.open(path) as out:
        assert out.size == (400, 200)


def test_scale_of_unnormalized_photo_is_upright(store: BlobStore) -> None:
    im = Image.new("RGB", (400, 200), BLUE)
    im.paste(RED, (0, 0, 100, 100))
    exif = Image.Exif()
    exif[ORIENTATION] = 6
    digest = put_image(store, im, "JPEG", exif=exif.tobytes())
    with Image.open(scale_path(store, digest, "thumb")) as out:
        assert out.size == (64, 128)
        assert close_to(out.getpixel((60, 3)), RED) and close_to(out.getpixel((3, 3)), BLUE)
        assert len(out.getexif()) == 0


def test_scale_errors(store: BlobStore) -> None:
    digest = put_image(store, noise((300, 300)))
    with pytest.raises(KeyError):
        scale_path(store, digest, "huge")
    with pytest.raises(ValueError):
        scale_path(store, "../" + digest[3:], "thumb")
    with pytest.raises(FileNotFoundError):
        scale_path(store, "0" * 64, "thumb")
    text = store.put("不是图片".encode() * 100)[0]
    with pytest.raises(ImageError) as info:
        scale_path(store, text, "thumb")
    assert info.value.reason == "not_image"


def test_concurrent_scaling_is_safe(store: BlobStore) -> None:
    digest = put_image(store, noise((1500, 1500)))
    results: list[Path] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            results.append(scale_path(store, digest, "large"))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(set(results)) == 1
    with Image.open(results[0]) as out:
        out.load()
        assert out.size == (1024, 1024)
    assert list((store.root / "tmp").iterdir()) == []


def test_scaled_accepts_transactional_store(store: BlobStore) -> None:
    tm = transaction.TransactionManager(explicit=True)
    tblobs = TransactionalBlobs(store, tm)
    tm.begin()
    digest = tblobs.put(encode(noise((500, 250)), "JPEG"))[0]
    tm.commit()
    with Image.open(scale_path(tblobs, digest, "thumb")) as out:
        assert out.size == (128, 64)


# --- memory: pixels decoded at once are bounded, and the memory is given back -------------------

MEMORY_PROBE = r"""
import json, os, sys, threading, time
from portal import images
data = open(sys.argv[1], "rb").read()
page = os.sysconf("SC_PAGE_SIZE")
def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * page
baseline = peak = rss()
done = False
def sample():
    global peak
    while not done:
        peak = max(peak, rss())
        time.sleep(0.002)
sampler = threading.Thread(target=sample)
sampler.start()
for _round in range(2):
    workers = [threading.Thread(target=images.normalize_image, args=(data,)) for _ in range(4)]
    for w in workers: w.start()
    for w in workers: w.join()
done = True
sampler.join()
print(json.dumps({"baseline": baseline, "peak": peak, "after": rss(), "budget_peak": getattr(getattr(images, "DECODING", None), "peak", 0)}))
"""


@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="reads the resident size from /proc")
def test_parallel_big_pictures_are_bounded_and_the_memory_returned(tmp_path: Path) -> None:
    """Four 36-megapixel photos at once took a server from 430 MB to 1,029 MB and kept it. In a
    process of its own (its memory is the measure), two rounds of four parallel uploads must stay
    under two decoded pictures and end where they started."""
    width = height = 6000
    photo = tmp_path / "36mp.jpg"
    Image.new("RGB", (width, height), (40, 90, 160)).save(photo, "JPEG", quality=80)
    decoded = width * height * 4  # Pillow keeps RGB in 4 bytes a pixel: 144 MB
    out = subprocess.run([sys.executable, "-c", MEMORY_PROBE, str(photo)], capture_output=True, text=True,
                         timeout=120, cwd=Path(__file__).resolve().parents[2])
    assert out.returncode == 0, out.stderr
    m = json.loads(out.stdout)
    assert m["peak"] - m["baseline"] < 2 * decoded, m
    assert m["after"] - m["baseline"] < decoded // 3, m
    assert m["budget_peak"] <= images.DECODE_BUDGET


def test_pixel_budget_makes_callers_wait() -> None:
    budget = images.PixelBudget(100)
    order: list[str] = []
    big_in = threading.Event()

    def big() -> None:
        with budget.hold(80):
            big_in.set()
            time.sleep(0.05)
            order.append("big out")

    def small() -> None:
        big_in.wait()
        with budget.hold(30):  # 80 + 30 > 100: waits for the big one
            order.append("small in")

    threads = [threading.Thread(target=big), threading.Thread(target=small)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert order == ["big out", "small in"]
    assert budget.peak == 80 and budget.in_use == 0
    with budget.hold(10_000):  # bigger than the whole budget: takes all of it, never deadlocks
        assert budget.in_use == 100


def test_uploads_hold_the_budget_for_their_pixels(monkeypatch: pytest.MonkeyPatch) -> None:
    budget = images.PixelBudget(images.DECODE_BUDGET)
    monkeypatch.setattr(images, "DECODING", budget)
    normalize_image(encode(noise((300, 200)), "PNG"))
    assert budget.peak == 300 * 200 and budget.in_use == 0


def test_jpeg_scales_are_decoded_at_reduced_size(store: BlobStore, monkeypatch: pytest.MonkeyPatch) -> None:
    budget = images.PixelBudget(images.DECODE_BUDGET)
    monkeypatch.setattr(images, "DECODING", budget)
    digest = put_image(store, noise((1600, 1200)))
    with Image.open(scale_path(store, digest, "thumb")) as out:
        assert out.size == (128, 96)
    assert 0 < budget.peak <= (1600 // 4) * (1200 // 4)  # draft: decoded at a quarter of each side
