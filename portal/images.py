"""Validation, clean-up and scaling of uploaded images (Pillow).

Uploaded images are re-encoded before they are stored (``normalize_image``):
that proves they decode, turns them the right way up, and drops EXIF/XMP
metadata such as the GPS position a phone writes into a photo, which a
government site must not republish. Scaled copies for pages and lists are
made on first request and cached next to the blobs (``scaled``).

Decoding is bounded per process (``DECODING``): four 36-megapixel photos
uploaded at once took a server from 430 MB to 1,029 MB (each decoded picture
is 144 MB, and turning it upright copied it). Now at most ``DECODE_BUDGET``
pixels are decoded at any moment (one picture of the maximum size, or several
smaller ones; the others wait their turn), a picture is turned upright in
place, JPEG scales are decoded at reduced size (``draft``), and once nothing
is being decoded the freed memory is handed back to the operating system.

Every failure is reported as ``ImageError`` with a ``reason`` that views
translate into a message; no Pillow exception escapes this module.
"""

from __future__ import annotations

import ctypes
import io
import os
import secrets
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Callable

from PIL import Image, ImageOps, UnidentifiedImageError

if TYPE_CHECKING:
    from portal.blobs import BlobStore, TransactionalBlobs

__all__ = [
    "ALLOWED_FORMATS",
    "DECODE_BUDGET",
    "DECODING",
    "ImageError",
    "MAX_PIXELS",
    "SCALES",
    "normalize_image",
    "scale_path",
    "scaled",
]

MAX_PIXELS = 40_000_000
DECODE_BUDGET = MAX_PIXELS  # pixels decoded at once in this process (a 40 MP picture is 160 MB)
JPEG_QUALITY = 90
SCALE_QUALITY = 85
SCALES: dict[str, int] = {"thumb": 128, "preview": 400, "large": 1024}

ALLOWED_FORMATS: dict[str, str] = {
    "JPEG": "image/jpeg",
    "PNG": "image/png",
    "GIF": "image/gif",
    "WEBP": "image/webp",
}
_EXTENSIONS = {"JPEG": "jpg", "PNG": "png", "GIF": "gif", "WEBP": "webp"}

REASONS = ("not_image", "truncated", "bomb", "unsupported")


class ImageError(ValueError):
    """Why an upload is not an acceptable image.

    ``reason`` is one of ``REASONS``: ``not_image`` (not a picture at all),
    ``truncated`` (recognised but damaged or incomplete), ``bomb`` (too many
    pixels to decode safely), ``unsupported`` (an image, but not JPEG, PNG,
    GIF or WebP).
    """

    def __init__(self, reason: str, detail: str = "") -> None:
        if reason not in REASONS:
            raise ValueError(f"unknown ImageError reason {reason!r}")
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


def _find_malloc_trim() -> Callable[[int], int] | None:
    """glibc's malloc_trim: freed memory otherwise stays in the allocator's arenas (one per thread
    that allocated), so a server that once decoded big pictures in parallel keeps their size."""
    try:
        return ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to do
        return None


_malloc_trim = _find_malloc_trim()


def release_memory() -> None:
    """Give memory freed by decoding back to the operating system."""
    Image.core.clear_cache()
    if _malloc_trim is not None:
        _malloc_trim(0)


class PixelBudget:
    """At most ``limit`` pixels decoded at once; a caller that would exceed it waits.

    A picture larger than the whole budget takes all of it (it waits until nothing else is
    decoded). When the last holder leaves, the freed memory is released (``release_memory``).
    ``peak`` is the most ever held at once, for tests and diagnosis.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.in_use = 0
        self.peak = 0
        self._changed = threading.Condition()

    @contextmanager
    def hold(self, pixels: int) -> Iterator[None]:
        pixels = max(1, min(pixels, self.limit))
        with self._changed:
            self._changed.wait_for(lambda: self.in_use + pixels <= self.limit)
            self.in_use += pixels
            self.peak = max(self.peak, self.in_use)
        try:
            yield
        finally:
            with self._changed:
                self.in_use -= pixels
                idle = self.in_use == 0
                self._changed.notify_all()
            if idle:
                release_memory()


DECODING = PixelBudget(DECODE_BUDGET)


@contextmanager
def _pillow_guard() -> Iterator[None]:
    """Turn Pillow's decompression-bomb warning and error into ImageError.

    ``catch_warnings`` swaps process-wide filters and is not thread-safe; the
    worst a race can do is leave DecompressionBombWarning as an error, which
    only Pillow emits and which we want anyway.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            yield
        except (Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
            raise ImageError("bomb", str(exc)) from exc


def _open(fp: BinaryIO, max_pixels: int) -> Image.Image:
    """Read only the header, and refuse before any pixel is decoded."""
    try:
        im = Image.open(fp, formats=list(ALLOWED_FORMATS))
    except UnidentifiedImageError:
        raise _identify_other(fp) from None
    except ImageError:
        raise
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise
    except MemoryError:
        raise
    except Exception as exc:  # a known format with a broken header
        raise ImageError("truncated", repr(exc)) from exc
    width, height = im.size
    if width < 1 or height < 1:
        im.close()
        raise ImageError("truncated", f"size {width}x{height}")
    if width * height > max_pixels:
        im.close()
        raise ImageError("bomb", f"{width}x{height} > {max_pixels} pixels")
    return im


def _identify_other(fp: BinaryIO) -> ImageError:
    """Distinguish "an image we do not accept" from "not an image at all"."""
    try:
        fp.seek(0)
        with Image.open(fp) as other:
            return ImageError("unsupported", str(other.format))
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        return ImageError("unsupported", "image of another format")
    except MemoryError:
        raise
    except Exception:
        return ImageError("not_image")


def _load(im: Image.Image) -> None:
    try:
        im.load()
    except (ImageError, Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise
    except MemoryError:
        raise
    except Exception as exc:
        raise ImageError("truncated", repr(exc)) from exc


def _upright(im: Image.Image) -> Image.Image:
    """Apply the EXIF orientation; a damaged EXIF block is ignored, not fatal."""
    try:
        return ImageOps.exif_transpose(im)
    except MemoryError:
        raise
    except Exception:
        return im.copy()


def _upright_in_place(im: Image.Image) -> None:
    """``_upright`` without a second copy of the picture when it needs no turning."""
    try:
        ImageOps.exif_transpose(im, in_place=True)
    except MemoryError:
        raise
    except Exception:
        pass


def _has_alpha(im: Image.Image) -> bool:
    return im.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in im.info


def _encode(im: Image.Image, fmt: str, quality: int) -> bytes:
    """Encode ``im`` as ``fmt`` with no metadata except transparency and ICC.

    ``im.info`` is emptied first because several Pillow encoders copy entries
    (JPEG comments, GIF comments, PNG text…) from it. The ICC profile is kept:
    it carries no personal data and dropping it shifts colours of wide-gamut
    phone photos.
    """
    icc = im.info.get("icc_profile")
    transparency = im.info.get("transparency")
    im.info = {}
    params: dict[str, object] = {}
    if fmt == "JPEG":
        if im.mode not in ("RGB", "L", "CMYK"):
            im = im.convert("RGB")
        params.update(quality=quality, optimize=True)
    elif fmt == "WEBP":
        if im.mode not in ("RGB", "RGBA"):
            im = im.convert("RGBA" if _has_alpha(im) or transparency is not None else "RGB")
        params.update(quality=quality)
    elif fmt in ("PNG", "GIF"):
        if transparency is not None and im.mode in ("P", "L", "RGB", "1"):
            params["transparency"] = transparency
    if icc and fmt != "GIF":
        params["icc_profile"] = icc
    out = io.BytesIO()
    try:
        im.save(out, fmt, **params)
    except MemoryError:
        raise
    except Exception as exc:
        raise ImageError("unsupported", f"cannot encode {im.mode} as {fmt}: {exc!r}") from exc
    return out.getvalue()


def normalize_image(data: bytes, max_pixels: int = MAX_PIXELS) -> tuple[bytes, str, int, int]:
    """Validate an upload and return ``(bytes to store, mime type, width, height)``.

    Only JPEG, PNG, GIF and WebP are accepted. The pixel count is checked
    from the header before decoding, so a small file that would expand to
    gigabytes is refused cheaply. The picture is then decoded completely
    (catching damaged files now rather than when a visitor loads the page),
    rotated upright per EXIF and re-encoded in its own format without
    EXIF/XMP/comments (JPEG quality 90; PNG/GIF transparency kept; of an
    animated GIF/WebP/APNG only the first frame). Width and height are those
    of the returned, upright image.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError("normalize_image() needs bytes")
    if not data:
        raise ImageError("not_image", "empty")
    with _pillow_guard():
        with _open(io.BytesIO(data), max_pixels) as im, DECODING.hold(im.width * im.height):
            try:
                fmt = im.format
                assert fmt in ALLOWED_FORMATS
                _load(im)
                _upright_in_place(im)
                width, height = im.size
                quality = JPEG_QUALITY if fmt in ("JPEG", "WEBP") else 0
                encoded = _encode(im, fmt, quality)
            finally:
                im.close()  # frees the pixels before the budget is given back
    return encoded, ALLOWED_FORMATS[fmt], width, height


def _to_scalable(im: Image.Image) -> Image.Image:
    """Convert modes that resize badly (palette: nearest-neighbour only)."""
    if im.mode in ("RGB", "RGBA", "L", "LA", "CMYK"):
        return im
    if im.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):  # 16-bit grey PNG
        return im.convert("I").point(lambda v: v * (1 / 256)).convert("L")
    if im.mode == "1":
        return im.convert("L")
    return im.convert("RGBA" if _has_alpha(im) else "RGB")


def _render(im: Image.Image, longest: int) -> Image.Image:
    """Shrink so the longest side is ``longest``, then turn upright.

    The bounding box is square, so scaling before the EXIF rotation gives
    the same result and lets Pillow decode a JPEG at reduced size (draft).
    """
    try:
        small = _to_scalable(im)
        small.thumbnail((longest, longest), Image.Resampling.LANCZOS)
        return _to_scalable(_upright(small))
    except (ImageError, Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise
    except MemoryError:
        raise
    except Exception as exc:
        raise ImageError("truncated", repr(exc)) from exc


def _write_atomically(root: Path, target: Path, data: bytes) -> None:
    """Write via a temp file in ``root/tmp`` + os.replace: readers and racing
    processes only ever see a complete file (the last writer wins, and both
    wrote the same picture)."""
    tmp_dir = root / "tmp"
    tmp_dir.mkdir(parents=True, exist_ok=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    tmp = tmp_dir / f"scale-{secrets.token_hex(12)}"
    fd = os.open(tmp, flags, 0o644)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def scaled(
    store: BlobStore | TransactionalBlobs,
    digest: str,
    scale: str,
    *,
    max_pixels: int = MAX_PIXELS,
) -> tuple[Path, str]:
    """Return ``(path, mime type)`` of ``digest`` scaled to ``SCALES[scale]``.

    The longest side becomes ``SCALES[scale]``; images that already fit are
    never enlarged: the blob's own path is returned. Otherwise the scale is
    made once and cached as
    ``store.root/scales/<digest[:2]>/<digest>-<scale>.<ext>`` (JPEG, PNG and
    WebP keep their format; GIF scales are PNG, which resamples cleanly).

    Raises KeyError for an unknown scale, ValueError for a malformed digest,
    FileNotFoundError for a missing blob, ImageError if it is not an image.
    """
    longest = SCALES[scale]
    source = store.path(digest)
    root = Path(store.root)
    with _pillow_guard():
        with open(source, "rb") as fp, _open(fp, max_pixels) as im:
            fmt = im.format
            if max(im.size) <= longest:
                return source, ALLOWED_FORMATS[fmt]
            out_fmt = "PNG" if fmt == "GIF" else fmt
            target = root / "scales" / digest[:2] / f"{digest}-{scale}.{_EXTENSIONS[out_fmt]}"
            if target.is_file():
                return target, ALLOWED_FORMATS[out_fmt]
            if fmt == "JPEG":  # decode at 1/2, 1/4 or 1/8 of the size, as close above 2x the scale
                im.draft(None, (2 * longest, 2 * longest))
            with DECODING.hold(im.width * im.height):
                try:
                    data = _encode(_render(im, longest), out_fmt, SCALE_QUALITY)
                finally:
                    im.close()
    _write_atomically(root, target, data)
    return target, ALLOWED_FORMATS[out_fmt]


def scale_path(store: BlobStore | TransactionalBlobs, digest: str, scale: str) -> Path:
    """Path of the cached scale (or of the blob if it already fits); see ``scaled``."""
    return scaled(store, digest, scale)[0]
