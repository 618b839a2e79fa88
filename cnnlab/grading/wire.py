"""Plain data across the sandbox boundary: a strict codec and length-prefixed frames.

The student's side (``worker.py``) runs untrusted code, so everything it sends is
read as hostile: a frame is at most ``MAX_FRAME`` bytes and must arrive within a
deadline, and :func:`decode` accepts only this grammar (JSON, never pickle)::

    None | bool | int | float | str | [value, ...]
    {"$tuple": [value, ...]}
    {"$dict": [[key, value], ...]}          key: str or int
    {"$nd": [dtype, shape, base64 bytes]}  dtype in ALLOWED_DTYPES, C order
    {"$np": [dtype, base64 bytes]}          a NumPy scalar
    {"$dtype": dtype}                       a NumPy dtype (``np.float32`` or ``x.dtype``)

nested at most ``MAX_DEPTH`` deep with at most ``MAX_ITEMS`` values in all. Arrays
are rebuilt with ``np.frombuffer`` (plain, writable ``ndarray``; subclasses and
object dtype never cross). A dtype, or a NumPy scalar type such as ``np.float32``, is
decoded as ``np.dtype`` (both work as ``x.astype(...)``'s argument). A tuple subclass (a
``namedtuple`` cache) is sent as a plain tuple. Anything else is :class:`NotPlainData`.
"""
from __future__ import annotations

import base64
import json
import os
import select
import struct
import time

import numpy as np

MAX_FRAME = 64 * 2**20       # bytes of one message
MAX_DEPTH = 32
MAX_ITEMS = 1_000_000         # containers and scalars in one value
ALLOWED_DTYPES = {np.dtype(t).str for t in (
    "?", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "f2", "f4", "f8")}
_HEADER = struct.Struct(">Q")


class NotPlainData(TypeError):
    """A value that is not plain data (or a message that breaks the grammar)."""


class WireClosed(EOFError):
    """The other side closed the pipe, sent garbage framing, or missed its deadline."""


def encode(value, _depth: int = 0):
    """Turn plain data into the JSON-ready grammar above; ``NotPlainData`` otherwise.
    Torch tensors become arrays; ndarray subclasses become plain arrays."""
    if _depth > MAX_DEPTH:
        raise NotPlainData(f"nested more than {MAX_DEPTH} levels deep")
    if value is None or isinstance(value, (bool, str)) or type(value) in (int, float):
        return value
    if type(value) is list:
        return [encode(v, _depth + 1) for v in value]
    if isinstance(value, tuple):  # a namedtuple too, sent as a plain tuple
        return {"$tuple": [encode(v, _depth + 1) for v in value]}
    if type(value) is dict:
        for key in value:
            if type(key) not in (str, int):
                raise NotPlainData(f"a dict key of type {type(key).__name__} (only str and int keys)")
        return {"$dict": [[k, encode(v, _depth + 1)] for k, v in value.items()]}
    if type(value).__module__ == "torch" and type(value).__name__ in ("Tensor", "Parameter"):
        value = value.detach().cpu().numpy()
    if isinstance(value, np.ndarray):
        array = np.ascontiguousarray(np.asarray(value).view(np.ndarray))
        if array.dtype.str not in ALLOWED_DTYPES:
            raise NotPlainData(f"an array of dtype {array.dtype} (only bool, int, uint, float)")
        return {"$nd": [array.dtype.str, list(array.shape), base64.b64encode(array.tobytes()).decode()]}
    if isinstance(value, np.generic) and np.dtype(type(value)).str in ALLOWED_DTYPES:
        return {"$np": [value.dtype.str, base64.b64encode(value.tobytes()).decode()]}
    if isinstance(value, np.dtype) or isinstance(value, type) and issubclass(value, np.generic):
        try:
            dtype = np.dtype(value)
        except TypeError:  # an abstract type such as np.floating
            dtype = None
        if dtype is not None and dtype.str in ALLOWED_DTYPES:
            return {"$dtype": dtype.str}
    raise NotPlainData(f"a {type(value).__module__}.{type(value).__qualname__}")


def decode(data):
    """The inverse of :func:`encode`, for data from an untrusted sender."""
    budget = [MAX_ITEMS]
    return _decode(data, 0, budget)


def _decode(data, depth, budget):
    budget[0] -= 1
    if budget[0] < 0 or depth > MAX_DEPTH:
        raise NotPlainData("too many or too deeply nested values")
    if data is None or type(data) in (bool, int, float, str):
        return data
    if type(data) is list:
        return [_decode(v, depth + 1, budget) for v in data]
    if type(data) is not dict or len(data) != 1:
        raise NotPlainData("a malformed value")
    (tag, body), = data.items()
    if tag == "$tuple" and type(body) is list:
        return tuple(_decode(v, depth + 1, budget) for v in body)
    if tag == "$dict" and type(body) is list:
        out = {}
        for pair in body:
            if type(pair) is not list or len(pair) != 2 or type(pair[0]) not in (str, int):
                raise NotPlainData("a malformed dict entry")
            out[pair[0]] = _decode(pair[1], depth + 1, budget)
        return out
    if tag == "$nd" and type(body) is list and len(body) == 3:
        dtype, shape, raw = body
        if (dtype not in ALLOWED_DTYPES or type(shape) is not list or len(shape) > 32
                or any(type(n) is not int or n < 0 for n in shape) or type(raw) is not str):
            raise NotPlainData("a malformed array")
        raw = base64.b64decode(raw, validate=True)
        if len(raw) != int(np.prod(shape, dtype=object)) * np.dtype(dtype).itemsize:
            raise NotPlainData("an array whose bytes do not match its shape")
        return np.frombuffer(raw, dtype=dtype).reshape(shape).copy()
    if tag == "$np" and type(body) is list and len(body) == 2 and body[0] in ALLOWED_DTYPES \
            and type(body[1]) is str:
        raw = base64.b64decode(body[1], validate=True)
        if len(raw) != np.dtype(body[0]).itemsize:
            raise NotPlainData("a malformed scalar")
        return np.frombuffer(raw, dtype=body[0])[0]
    if tag == "$dtype" and body in ALLOWED_DTYPES:
        return np.dtype(body)
    raise NotPlainData(f"an unknown tag {str(tag)[:40]!r}")


def _wait(fd: int, readable: bool, deadline: float) -> None:
    """Block until ``fd`` is readable (or writable); ``TimeoutError`` past ``deadline``."""
    left = None if deadline == float("inf") else deadline - time.monotonic()
    reads, writes = ([fd], []) if readable else ([], [fd])
    if left is not None and left <= 0 or not any(select.select(reads, writes, [], left)[:2]):
        raise TimeoutError("no answer in time" if readable else "the other side does not read")


def send(fd: int, message, deadline: float | None = None) -> None:
    """Write one JSON message (a dict of plain JSON) as a length-prefixed frame; on a
    non-blocking ``fd``, ``TimeoutError`` if the reader lets it fill past ``deadline``."""
    payload = json.dumps(message, separators=(",", ":")).encode()
    view = memoryview(_HEADER.pack(len(payload)) + payload)
    deadline = float("inf") if deadline is None else deadline
    while view:
        try:
            view = view[os.write(fd, view):]
        except BlockingIOError:
            _wait(fd, False, deadline)


def _read_exactly(fd: int, size: int, deadline: float) -> bytes:
    chunks, got = [], 0
    while got < size:
        _wait(fd, True, deadline)
        chunk = os.read(fd, min(size - got, 1 << 20))
        if not chunk:
            raise WireClosed("the other side closed the connection")
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def receive(fd: int, deadline: float | None = None) -> dict:
    """Read one frame (``TimeoutError`` past ``deadline``, a ``time.monotonic()`` value);
    ``WireClosed`` on end of file, an oversized frame or bytes that are not a JSON object."""
    deadline = float("inf") if deadline is None else deadline
    (size,) = _HEADER.unpack(_read_exactly(fd, _HEADER.size, deadline))
    if size > MAX_FRAME:
        raise WireClosed(f"a message of {size} bytes (at most {MAX_FRAME})")
    try:
        message = json.loads(_read_exactly(fd, size, deadline))
    except (ValueError, RecursionError) as err:
        raise WireClosed(f"a message that is not JSON ({type(err).__name__})") from None
    if type(message) is not dict:
        raise WireClosed("a message that is not a JSON object")
    return message
