"""Read ``.npz``/``.npy`` files without executing pickle.

The release's ``poses.npz`` stores ``frame_payloads`` as a numpy OBJECT array, i.e. a pickle stream
inside the ``.npy`` member. ``np.load(allow_pickle=True)`` would run whatever that stream asks for.
Here the zip is opened with :mod:`zipfile`, each ``.npy`` header is parsed by numpy's header
functions (they use ``ast.literal_eval``, not pickle), plain arrays are built with
``np.frombuffer``, and object arrays go through :class:`SafeUnpickler`.

:class:`SafeUnpickler` admits only the globals that numpy 1.x and 2.x pickles of plain arrays use
(``numpy[._]core.multiarray._reconstruct``, ``numpy.ndarray``, ``numpy.dtype``,
``numpy[._]core.multiarray.scalar``, ``numpy[._]core.numeric._frombuffer`` for protocol 5 and
``_codecs.encode`` for protocol-2 bytes). Even these are never handed to pickle: ``find_class``
returns small local stand-ins (:class:`RawArray` for ``_reconstruct``, a validating dtype stub,
guarded functions that refuse BUILD) which only record and check their arguments, so no numpy
internals are ever called with attacker-chosen arguments. Every other global (``os.system``,
``builtins.eval``, any class) makes the load fail before anything runs.

Decoded non-object arrays inside a pickle come back as :class:`RawArray` (dtype, shape, bytes): the
pose reader concatenates those bytes per key and decodes thousands of frames with one
``np.frombuffer`` instead of building one tiny ndarray per value.
"""
from __future__ import annotations

import contextlib
import gc
import io
import math
import pickle
import zipfile
from pathlib import Path
from typing import IO, Any, Collection

import numpy as np

from signverse.core.errors import InputError
from signverse.core.limits import MAX_NESTING, budget_hint, decode_budget
# Simple dtype kinds an array may have inside a pickle (no structured/void, no datetime tricks).
_SIMPLE_KINDS = set("biufcUS?")


class RefusedPickle(pickle.UnpicklingError):
    """The pickle stream referenced a global outside the whitelist."""


class RawArray:
    """A non-object numpy array decoded from a pickle but not yet materialised.

    ``dtype``, ``shape`` and ``data`` (raw bytes) are checked when read; :meth:`array` returns the
    array itself. Kept this small on purpose: the unpickler makes one per stored value (pickle
    calls it as numpy's ``_reconstruct(ndarray, shape, typecode)``, then BUILD hands it numpy's
    state tuple ``(version, shape, dtype, is_fortran, data)``), and the pose reader concatenates
    the bytes of all frames and decodes them with one ``np.frombuffer``.
    """

    __slots__ = ("state",)

    def __init__(self, cls=None, shape=None, typecode=None):
        if cls is not _NDARRAY:
            raise pickle.UnpicklingError("_reconstruct of something other than numpy.ndarray")
        self.state = _NO_STATE

    def __setstate__(self, state) -> None:
        if type(state) is not tuple or len(state) != 5:
            raise pickle.UnpicklingError("malformed ndarray state")
        self.state = state   # validated when used (see _checked and the pose reader's gather)

    def _checked(self) -> tuple[np.dtype, tuple[int, ...], Any, bool]:
        _version, shape, dtype, fortran, data = getattr(self, "state", _NO_STATE)
        if not isinstance(dtype, _DTypeStub):
            raise pickle.UnpicklingError("ndarray state without a dtype")
        if not isinstance(shape, tuple) or not all(type(s) is int and s >= 0 for s in shape):
            raise pickle.UnpicklingError(f"bad ndarray shape {shape!r}")
        dt = dtype.resolve()
        count = math.prod(shape)
        if dt.kind == "O":
            if not isinstance(data, list) or len(data) != count:
                raise pickle.UnpicklingError("object array state does not match its shape")
        elif not isinstance(data, (bytes, bytearray)) or len(data) != count * dt.itemsize:
            raise pickle.UnpicklingError("array data does not match its shape and dtype")
        return dt, shape, data, bool(fortran)

    @property
    def dtype(self) -> np.dtype:
        return self._checked()[0]

    @property
    def shape(self) -> tuple[int, ...]:
        return self._checked()[1]

    @property
    def data(self) -> bytes:
        return bytes(self._checked()[2])

    def array(self, _memo: dict | None = None, _depth: int = 0) -> np.ndarray:
        """The array itself (read-only for numbers; an object array for lists of objects).

        Object arrays nested in object arrays are materialised once per stored object (a pickle
        can reference one array from many places, 40 levels deep: expanding each reference
        would take exponential time and memory) and at most ``SIGNVERSE_MAX_NESTING`` deep.
        """
        dt, shape, data, fortran = self._checked()
        order = "F" if fortran else "C"
        if dt.kind == "O":
            if _depth >= MAX_NESTING.value():
                raise pickle.UnpicklingError(f"object arrays nested more than {_depth} deep "
                                             f"({MAX_NESTING.hint()})")
            memo = {} if _memo is None else _memo
            if id(self) in memo:
                return memo[id(self)]
            out = np.empty(len(data), dtype=object)
            for i, item in enumerate(data):
                if type(item) is RawArray:
                    out[i] = memo[id(item)] if id(item) in memo else item.array(memo, _depth + 1)
                else:
                    out[i] = item
            memo[id(self)] = out = out.reshape(shape, order=order)
            return out
        return np.frombuffer(bytes(data), dtype=dt).reshape(shape, order=order)

    def dtype_is(self, dtype: np.dtype) -> bool:
        """Whether the stored dtype equals ``dtype`` (False for malformed state)."""
        return RawArray.dtype_is_stub(getattr(self, "state", _NO_STATE)[2], dtype)

    @staticmethod
    def dtype_is_stub(stub: Any, dtype: np.dtype) -> bool:
        """Whether ``stub`` (the dtype slot of a state) is a dtype equal to ``dtype``."""
        try:
            return isinstance(stub, _DTypeStub) and stub.resolve() == dtype
        except (pickle.UnpicklingError, TypeError, ValueError):
            return False


class _ArrayMarker:
    """Stands in for ``numpy.ndarray`` inside the stream; only ``_reconstruct`` accepts it."""

    __slots__ = ()

    def __setstate__(self, state) -> None:
        raise pickle.UnpicklingError("BUILD on a numpy type is not accepted")


_NDARRAY = _ArrayMarker()
_NO_STATE = (None, None, None, None, None)


class _DTypeStub:
    """Stands in for ``numpy.dtype(spec, align, copy)`` until its state arrives by BUILD."""

    __slots__ = ("spec", "order", "dtype")

    def __init__(self, spec: str):
        self.spec, self.order, self.dtype = spec, None, None

    def __setstate__(self, state) -> None:
        if not isinstance(state, tuple) or len(state) < 2 or not isinstance(state[1], str):
            raise pickle.UnpicklingError("malformed dtype state")
        # state = (version, byteorder, subarray, names, fields, elsize, alignment, flags)
        if any(part is not None for part in state[2:5]):
            raise pickle.UnpicklingError("structured or subarray dtypes are not accepted")
        if state[1] not in "<>|=":
            raise pickle.UnpicklingError(f"bad byte order {state[1]!r}")
        self.order = state[1]

    def resolve(self) -> np.dtype:
        if self.dtype is None:
            dtype = np.dtype(self.spec)
            if dtype.kind not in _SIMPLE_KINDS and dtype.kind != "O":
                raise pickle.UnpicklingError(f"dtype {self.spec!r} is not accepted")
            if self.order in ("<", ">") and dtype.kind != "O":
                dtype = dtype.newbyteorder(self.order)
            self.dtype = dtype
        return self.dtype


def _dtype(spec, align=False, copy=True) -> _DTypeStub:
    if not isinstance(spec, str) or len(spec) > 8:
        raise pickle.UnpicklingError(f"dtype spec {spec!r} is not accepted")
    try:
        kind = np.dtype(spec).kind
    except TypeError as exc:
        raise pickle.UnpicklingError(f"bad dtype spec {spec!r}") from exc
    if kind not in _SIMPLE_KINDS and kind != "O":
        raise pickle.UnpicklingError(f"dtype {spec!r} is not accepted")
    return _DTypeStub(spec)


def _scalar(dtype, data=None):
    if not isinstance(dtype, _DTypeStub):
        raise pickle.UnpicklingError("scalar without a dtype")
    dt = dtype.resolve()
    if dt.kind == "O":
        raise pickle.UnpicklingError("object scalars are not accepted")
    if not isinstance(data, (bytes, bytearray)) or len(data) != dt.itemsize:
        raise pickle.UnpicklingError("scalar data does not match its dtype")
    # A plain Python value: numpy scalars have a __setstate__ a crafted BUILD could reach.
    return np.frombuffer(bytes(data), dtype=dt)[0].item()


def _frombuffer(buf, dtype, shape, order):
    if not isinstance(dtype, _DTypeStub) or dtype.resolve().kind == "O":
        raise pickle.UnpicklingError("bad _frombuffer dtype")
    arr = RawArray(_NDARRAY)
    arr.__setstate__((1, tuple(shape), dtype, order == "F", bytes(buf)))
    return arr


def _codecs_encode(text, encoding="utf-8"):
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError("_codecs.encode is only accepted for latin-1 bytes")
    return text.encode("latin-1")


class _Guarded:
    """Wraps an admitted callable so a crafted BUILD cannot set attributes on the function."""

    __slots__ = ("_fn",)

    def __init__(self, fn):
        object.__setattr__(self, "_fn", fn)

    def __call__(self, *args):
        return self._fn(*args)

    def __setattr__(self, name, value):
        raise pickle.UnpicklingError("attribute writes are not accepted")

    def __setstate__(self, state) -> None:
        raise pickle.UnpicklingError("BUILD on a function is not accepted")


_CORE = ("numpy.core.multiarray", "numpy._core.multiarray")
_ALLOWED: dict[tuple[str, str], Any] = {
    ("numpy", "ndarray"): _NDARRAY, ("numpy", "dtype"): _Guarded(_dtype),
    ("_codecs", "encode"): _Guarded(_codecs_encode),
    ("numpy.core.numeric", "_frombuffer"): _Guarded(_frombuffer),
    ("numpy._core.numeric", "_frombuffer"): _Guarded(_frombuffer)}
for _mod in _CORE:
    _ALLOWED[(_mod, "_reconstruct")] = RawArray   # a class: BUILD on it fails, nothing to tamper
    _ALLOWED[(_mod, "scalar")] = _Guarded(_scalar)


class SafeUnpickler(pickle.Unpickler):
    """Unpickler for plain numpy arrays, dicts, lists, tuples, str, bytes, numbers, bool and None."""

    def find_class(self, module: str, name: str):
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise RefusedPickle(f"{module}.{name}") from None

    def persistent_load(self, pid):
        raise pickle.UnpicklingError("persistent ids are not accepted")


def _finish(obj: Any) -> Any:
    """The top-level value: an array (object arrays hold the decoded items, whose nested arrays
    stay :class:`RawArray` until used)."""
    if type(obj) is RawArray:
        dt, shape, data, fortran = obj._checked()
        if dt.kind != "O":
            return obj.array()
        out = np.empty(len(data), dtype=object)
        for i, item in enumerate(data):
            out[i] = item
        return out.reshape(shape, order="F" if fortran else "C")
    return obj


@contextlib.contextmanager
def gc_paused():
    """Pause the cyclic garbage collector (re-entrant; restores the previous state).

    Decoding makes ~10 small container objects per stored array; with the collector running, its
    repeated scans of that growing heap cost more than the decoding itself. Nothing here creates
    reference cycles, so refcounting frees everything as usual.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def safe_unpickle(data: bytes) -> Any:
    """Decode a pickle stream of plain data; raises RefusedPickle or UnpicklingError."""
    with gc_paused():
        return _finish(SafeUnpickler(io.BytesIO(data)).load())


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:200]}"


def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    """A member's bytes, never more than its directory entry states (the local header and the
    deflate stream could disagree with the size the budget was checked against)."""
    with zf.open(info) as member:
        data = member.read(info.file_size + 1)
    if len(data) != info.file_size:
        raise zipfile.BadZipFile(f"member {info.filename} does not hold its stated "
                                 f"{info.file_size} bytes")
    return data


def _read_npy(raw: bytes, member: str, source: str, objects: bool = True) -> np.ndarray | RawArray:
    fp = io.BytesIO(raw)
    try:
        version = np.lib.format.read_magic(fp)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(fp)
        elif version in ((2, 0), (3, 0)):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(fp)
        else:
            raise ValueError(f"unsupported .npy version {version}")
    except Exception as exc:   # numpy's header parser raises many kinds (tokenize, ast, value)
        raise InputError(source, f"member {member}: bad .npy header ({_one_line(exc)})") from None
    offset = fp.tell()
    count = math.prod(shape)
    if dtype.hasobject:
        if not objects:
            raise InputError(source, f"member {member}: object array (pickle data) refused; this file "
                                     "holds plain arrays only")
        if dtype.kind != "O":
            raise InputError(source, f"member {member}: structured object dtypes are not accepted")
        try:
            obj = safe_unpickle(raw[offset:])
        except RefusedPickle as exc:
            raise InputError(source, f"refused: pickled data references {exc} (member {member}); "
                                     "only plain arrays, dicts, lists, strings and numbers are read") from None
        except Exception as exc:   # the C unpickler reports damage with many exception types
            if isinstance(exc, MemoryError):
                raise InputError(source, f"member {member}: pickle data too large for memory") from None
            raise InputError(source, f"member {member}: damaged pickle data ({_one_line(exc)})") from None
        if not isinstance(obj, np.ndarray) or obj.shape != tuple(shape):
            raise InputError(source, f"member {member}: pickled content does not match its header")
        return obj
    if dtype.kind == "V" and dtype.names is None and dtype.itemsize == 0:
        raise InputError(source, f"member {member}: empty void dtype")
    need = count * dtype.itemsize
    body = raw[offset:offset + need]
    if len(body) != need:
        raise InputError(source, f"member {member}: truncated (expected {need} data bytes, got {len(body)})")
    arr = np.frombuffer(body, dtype=dtype)
    return arr.reshape(shape, order="F" if fortran else "C")


def inflated_size(source: str | Path | bytes) -> int:
    """Bytes the ``.npy`` members of an npz inflate to, from its zip directory alone (0 when it
    cannot be read: :func:`load_npz` then reports the damage). For bounding many files together."""
    try:
        handle = io.BytesIO(source) if isinstance(source, (bytes, bytearray, memoryview)) else source
        with zipfile.ZipFile(handle) as zf:
            return sum(i.file_size for i in zf.infolist() if i.filename.endswith(".npy"))
    except Exception:   # zipfile raises many kinds on damaged archives
        return 0


def load_npz(source: str | Path | bytes | IO[bytes], *, name: str | None = None,
             keys: Collection[str] | None = None, objects: bool = True) -> dict[str, np.ndarray]:
    """Read the arrays of an ``.npz`` without running pickle code.

    ``source`` is a path, the file's bytes, or a binary file object; ``name`` is how errors name
    it (defaults to the path); ``keys`` (default: all) names the arrays to read, the others are
    never decompressed. Object arrays are decoded by :class:`SafeUnpickler`; the arrays they
    contain come back as :class:`RawArray`; ``objects=False`` refuses them instead (formats that
    hold plain arrays only). Any problem raises ``InputError`` naming the file.

    The members read may inflate to at most :func:`~signverse.core.limits.decode_budget` of the
    archive's size (``SIGNVERSE_DECODE_RATIO`` / ``SIGNVERSE_DECODE_FLOOR_BYTES``), checked
    from the zip directory before anything is decompressed; a member name that appears twice
    (np.savez never writes that) is refused.
    """
    label = name or (str(source) if isinstance(source, (str, Path)) else "<npz>")
    handle: Any = io.BytesIO(source) if isinstance(source, (bytes, bytearray, memoryview)) else source
    try:
        with zipfile.ZipFile(handle) as zf:
            wanted, seen = [], set()
            for info in zf.infolist():
                if info.is_dir() or not info.filename.endswith(".npy"):
                    continue   # np.savez writes only .npy members; anything else is not ours to read
                if info.filename in seen:
                    raise InputError(label, f"member {info.filename} appears twice, refused")
                seen.add(info.filename)
                if keys is None or info.filename[:-4] in keys:
                    wanted.append(info)
            archive = sum(i.compress_size + 30 + len(i.filename) for i in zf.infolist())
            inflated = sum(i.file_size for i in wanted)
            if inflated > decode_budget(archive):
                raise InputError(label, f"members inflate to {inflated} bytes from a {archive}-byte "
                                        f"archive, more than it can honestly hold ({budget_hint()})")
            out: dict[str, np.ndarray] = {}
            for info in wanted:
                out[info.filename[:-4]] = _read_npy(_read_member(zf, info), info.filename, label, objects)
            return out
    except InputError:
        raise
    except FileNotFoundError:
        raise InputError(label, "no such file") from None
    except IsADirectoryError:
        raise InputError(label, "is a directory, not an .npz file") from None
    except Exception as exc:   # zipfile raises many kinds on damaged archives (even SystemError)
        raise InputError(label, f"not a readable .npz (zip) file ({_one_line(exc)})") from None
