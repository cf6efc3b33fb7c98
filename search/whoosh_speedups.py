"""Speed-ups of whoosh3 3.54.0 for bulk indexing and reading, installed by the backend.

Three process-wide patches (:data:`PATCHES`), each behaving like what it
replaces (``tests/unit/search/test_whoosh_internals.py``):

* ``posting_pool``: :class:`~search.whoosh_posting_pool._GroupingPostingPool`
  as ``whoosh.writing.PostingPool`` (over half of bulk-indexing time went to
  pickling and merging single postings);
* ``field_lengths``: field lengths read once per field when postings are
  written, not once per posting (~15% of bulk indexing);
* ``mmap_reads``: compound segment files read from the mmap without
  whoosh3's copy of each file (~1.2 GB of RAM per searcher at 100k documents).

Process-wide because MpWriter's forked sub-writers must use them too (whoosh3
ignores SegmentWriter's ``poolclass`` argument).  :func:`install` applies them
once per process; every :class:`~search.whoosh_backend.WhooshBackend` calls it,
so importing :mod:`search` changes nothing in Whoosh.

Why checked first: the patches subclass and wrap Whoosh internals as they are
in 3.54.0.  :func:`install` compares the installed whoosh3 version with
:data:`PINNED_VERSION` and the signatures (parameter names, kinds and
defaults) of everything the patches replace or call with what they were
written against; on any difference it logs a warning naming it and patches
nothing.  Whoosh then runs as shipped: slower and bigger (a one-process bulk
build of 10,000 documents took ~2.5x the time and ~2.5x the memory), same
results (``tests/unit/search/test_speedups.py``).
:func:`active` says which patches are in place.
"""

from __future__ import annotations

import importlib
import inspect
import logging
import threading
from dataclasses import dataclass
from importlib import metadata
from typing import Any, Callable, Mapping

from whoosh import writing
from whoosh.codec import base as codec_base
from whoosh.codec.whoosh3 import W3Codec
from whoosh.filedb import compound, structfile

from search.whoosh_posting_pool import _GroupingPostingPool, freq_bytes

log = logging.getLogger(__name__)

#: The whoosh3 release the patches are written for (pyproject.toml pins it).
PINNED_VERSION = "3.54.0"

__all__ = ["PATCHES", "PINNED_VERSION", "active", "codec", "freq_bytes", "install", "mismatches", "uninstall"]


def codec() -> W3Codec:
    """Whoosh's codec with posting blocks of 1,024 instead of 128.

    Why: queries read whole posting lists into document sets (they never
    skip inside one), and per block Whoosh unpickles a header and a data
    tuple through several small file reads; bigger blocks cut that work
    (and the writers' block flushes) about eightfold.  A codec option, not a
    patch: used whether or not the patches are installed.
    """
    return W3Codec(blocklimit=1024)


# -- field lengths ---------------------------------------------------------------


class _CachedLengths:
    """Per-document field lengths read once per field instead of per posting.

    Why: when writing postings Whoosh looks up the document's field length
    for every posting (a seek + read in the lengths column, ~15% of bulk
    indexing); a list indexed by docnum does the same in C.
    """

    def __init__(self, pdr: Any) -> None:
        self._pdr = pdr

    def __getattr__(self, name: str) -> Any:
        return getattr(self._pdr, name)

    def doc_field_length_reader(self, fieldname: str, default: int = 0) -> Any:
        get = self._pdr.doc_field_length_reader(fieldname, default)
        return [get(d) for d in range(self._pdr.doc_count_all())].__getitem__


def _cached_lengths(add_postings: Callable[..., Any]) -> Callable[..., Any]:
    """The original ``FieldWriter.add_postings``, reading lengths through :class:`_CachedLengths`."""

    def add_postings_cached(self: Any, schema: Any, lengths: Any, items: Any) -> Any:
        if lengths is not None and hasattr(lengths, "doc_field_length_reader"):
            lengths = _CachedLengths(lengths)
        return add_postings(self, schema, lengths, items)

    return add_postings_cached


# -- reading without copying -----------------------------------------------------


class _ViewIO:
    """A read-only file over a memoryview (of the mmapped segment), no copy."""

    __slots__ = ("_mv", "_pos", "_len")

    def __init__(self, mv: memoryview) -> None:
        self._mv, self._pos, self._len = mv, 0, len(mv)

    def read(self, size: int | None = -1) -> bytes:
        pos = self._pos
        end = self._len if size is None or size < 0 else min(self._len, pos + size)
        self._pos = end
        return self._mv[pos:end].tobytes()

    def readinto(self, b: Any) -> int:
        data = self.read(len(b))
        b[: len(data)] = data
        return len(data)

    def readline(self, size: int | None = -1) -> bytes:
        out = bytearray()
        while (size is None or size < 0 or len(out) < size) and self._pos < self._len:
            ch = self._mv[self._pos : self._pos + 1].tobytes()
            self._pos += 1
            out += ch
            if ch == b"\n":
                break
        return bytes(out)

    def seek(self, pos: int, whence: int = 0) -> int:
        base = 0 if whence == 0 else self._pos if whence == 1 else self._len
        self._pos = max(0, base + pos)
        return self._pos

    def tell(self) -> int:
        return self._pos

    def close(self) -> None:
        self._mv = memoryview(b"")


class _ViewBufferFile(structfile.BufferFile):
    """``BufferFile`` without whoosh3's ``BytesIO(buf)``, which copies the whole
    mmapped file: ~1.2 GB of RAM per open searcher on a 100k-document index."""

    def __init__(self, buf: Any, name: str | None = None, onclose: Any = None) -> None:
        super().__init__(b"", name=name, onclose=onclose)
        self._buf = buf
        self.file = _ViewIO(buf if isinstance(buf, memoryview) else memoryview(buf))


# -- installing ------------------------------------------------------------------


@dataclass(frozen=True)
class Patch:
    """One attribute of Whoosh replaced, and what the replacement relies on."""

    owner: Any  # the module or class holding the attribute
    attr: str
    make: Callable[[Any], Any]  # the original -> its replacement
    #: ``"module:qualified.name"`` -> its signature without annotations, as in
    #: whoosh3 3.54.0: what is replaced, overridden or called by the replacement.
    expects: Mapping[str, str]


_POOL = "whoosh.writing:PostingPool."
_PDR = "whoosh.codec.base:PerDocumentReader."
PATCHES: dict[str, Patch] = {
    "posting_pool": Patch(writing, "PostingPool", lambda _original: _GroupingPostingPool, {
        _POOL + "__init__": "(self, tempstore, segment, limitmb=128, **kwargs)",
        _POOL + "add": "(self, item)",
        _POOL + "save": "(self)",
        _POOL + "items": "(self, maxfiles=128)",
        _POOL + "_write_run": "(self, f, items)",
        _POOL + "_read_run": "(self, path)",
        _POOL + "_new_run": "(self)",
        _POOL + "_add_run": "(self, filename)",
        _POOL + "_open_run": "(self, path)",
        _POOL + "_remove_run": "(self, path)",
    }),
    "field_lengths": Patch(codec_base.FieldWriter, "add_postings", _cached_lengths, {
        "whoosh.codec.base:FieldWriter.add_postings": "(self, schema, lengths, items)",
        _PDR + "doc_field_length_reader": "(self, fieldname, default=0)",
        _PDR + "doc_count_all": "(self)",
        "whoosh.codec.base:MultiPerDocumentReader.doc_field_length_reader": "(self, fieldname, default=0)",
        "whoosh.codec.whoosh3:W3PerDocReader.doc_field_length_reader": "(self, fieldname, default=0)",
    }),
    "mmap_reads": Patch(compound, "BufferFile", lambda _original: _ViewBufferFile, {
        "whoosh.filedb.compound:BufferFile.__init__": "(self, buf, name=None, onclose=None)",
        "whoosh.filedb.structfile:BufferFile.__init__": "(self, buf, name=None, onclose=None)",
    }),
}  # fmt: skip

_lock = threading.Lock()
_originals: dict[str, Any] = {}  # installed patch -> the attribute it replaced
_refused: list[str] | None = None  # the differences found by a refused install


def _resolve(path: str) -> Any:
    """``"module:qualified.name"`` in Whoosh as shipped (an installed patch's original)."""
    module, _, names = path.partition(":")
    obj: Any = importlib.import_module(module)
    replaced = {(id(PATCHES[name].owner), PATCHES[name].attr): original for name, original in _originals.items()}
    for name in names.split("."):
        key = (id(obj), name)
        obj = replaced[key] if key in replaced else getattr(obj, name)
    return obj


def _shape(fn: Any) -> str:
    """``fn``'s signature without annotations: they change without changing the call."""
    sig = inspect.signature(fn)
    params = [p.replace(annotation=inspect.Parameter.empty) for p in sig.parameters.values()]
    return str(sig.replace(parameters=params, return_annotation=inspect.Signature.empty))


def mismatches() -> list[str]:
    """How the installed Whoosh differs from what the patches expect (empty: they fit)."""
    out = []
    try:
        version = metadata.version("whoosh3")
    except metadata.PackageNotFoundError:
        version = "not installed"
    if version != PINNED_VERSION:
        out.append(f"whoosh3 is {version}, the patches are written for {PINNED_VERSION}")
    for patch in PATCHES.values():
        for path, expected in patch.expects.items():
            try:
                found = _shape(_resolve(path))
            except (ImportError, AttributeError, TypeError, ValueError) as e:
                found = f"missing ({type(e).__name__})"
            if found != expected:
                out.append(f"{path} is {found}, expected {expected}")
    return out


def install() -> frozenset[str]:
    """Install every patch, or none if Whoosh is not as they expect; returns :func:`active`.

    Idempotent and thread-safe: the check runs once per process (and warns
    once) until :func:`uninstall`.
    """
    global _refused
    with _lock:
        if _originals or _refused is not None:
            return active()
        problems = mismatches()
        if problems:
            _refused = problems
            log.warning("search: Whoosh speed-ups not installed, Whoosh runs unpatched (slower, same results): %s",
                        "; ".join(problems))  # fmt: skip
            return frozenset()
        for name, patch in PATCHES.items():
            original = getattr(patch.owner, patch.attr)
            setattr(patch.owner, patch.attr, patch.make(original))
            _originals[name] = original
        return active()


def active() -> frozenset[str]:
    """The names (keys of :data:`PATCHES`) of the patches in place."""
    return frozenset(_originals)


def uninstall() -> None:
    """Put Whoosh back as shipped and forget a refused check (for tests)."""
    global _refused
    with _lock:
        for name, original in reversed(list(_originals.items())):
            patch = PATCHES[name]
            setattr(patch.owner, patch.attr, original)
        _originals.clear()
        _refused = None
