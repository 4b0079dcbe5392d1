"""Payload encoding: canonical, strict CBOR for what protocols send (see ``engine.wire``).

Payloads may hold: ints of any size (CBOR bignums), text, bytes, lists, maps with text keys,
``None``/``True``/``False``, numpy arrays (RFC 8746 typed arrays inside tag 40, little-endian,
dtype and shape kept), ``BigIntVector`` and ``SignedIntVector`` (packed fixed-width integers). CBOR floats are refused in both directions.
Decoding is strict: no indefinite lengths, no duplicate keys, a small nesting depth, only the
tags listed here. See docs/wire-format.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cbor2
import numpy as np

from coopetition.engine.errors import PartyId

WIRE_VERSION = 2
SIGNATURE_BYTES = 64
MAX_DEPTH = 24
#: Most CBOR data items one payload may hold (see ``count_items``).
MAX_ITEMS = 1_000_000

#: RFC 8746 typed-array tags we emit and accept (always little-endian, or single bytes).
_TYPED_ARRAY_TAGS: dict[str, int] = {
    "|u1": 64,
    "<u2": 69,
    "<u4": 70,
    "<u8": 71,
    "|i1": 72,
    "<i2": 77,
    "<i4": 78,
    "<i8": 79,
    "<f4": 85,
    "<f8": 86,
}
_DTYPE_BY_TAG = {tag: np.dtype(code) for code, tag in _TYPED_ARRAY_TAGS.items()}
TAG_NDARRAY = 40  # RFC 8746 multi-dimensional array, row-major: [dims, typed array]
TAG_BIGINT_VECTOR = 1668247400  # first-come-first-served range: [width, packed big-endian bytes]
TAG_SIGNED_INT_VECTOR = 1668247401  # [width, packed big-endian zigzag codes], width minimal

#: Tags cbor2 would otherwise turn into Python objects (dates, decimals, sets, regexps...).
_FORBIDDEN_SEMANTIC_TAGS = (
    0,
    1,
    4,
    5,
    21,
    22,
    23,
    24,
    25,
    28,
    29,
    30,
    32,
    33,
    34,
    35,
    36,
    37,
    52,
    54,
    100,
    256,
    258,
    260,
    261,
    1004,
    55799,
)


class WireError(ValueError):
    """A frame could not be decoded or verified. ``sender`` is set once it is known."""

    def __init__(self, message: str, *, sender: PartyId | None = None) -> None:
        super().__init__(message)
        self.sender = sender


@dataclass(frozen=True, slots=True)
class BigIntVector:
    """Non-negative integers sent as one fixed-width big-endian byte string.

    ``width`` is in bytes; when ``None`` the encoder uses the width of the largest value. Pass the
    width of the modulus (e.g. N**2 for Paillier ciphertexts) so that sizes do not leak values.
    """

    values: tuple[int, ...]
    width: int | None = None

    @classmethod
    def of(cls, values: Any, width: int | None = None) -> BigIntVector:
        return cls(tuple(int(v) for v in values), width)

    def __len__(self) -> int:
        return len(self.values)

    def to_cbor(self) -> cbor2.CBORTag:
        largest = max(self.values, default=0)
        if any(v < 0 for v in self.values):
            raise TypeError("BigIntVector holds non-negative integers only")
        width = self.width or max(1, (largest.bit_length() + 7) // 8)
        if largest.bit_length() > 8 * width:
            raise TypeError(f"a value of {largest.bit_length()} bits does not fit width {width}")
        packed = b"".join(v.to_bytes(width, "big") for v in self.values)
        return cbor2.CBORTag(TAG_BIGINT_VECTOR, [width, packed])


def zigzag(value: int) -> int:
    """The signed integer as a non-negative one: 0, -1, 1, -2, 2 ... -> 0, 1, 2, 3, 4 ...

    A bijection of Z onto N, so every signed value has exactly one code (no "-0", unlike
    sign-magnitude) and small magnitudes of either sign stay small.
    """
    return 2 * value if value >= 0 else -2 * value - 1


def unzigzag(code: int) -> int:
    """The inverse of ``zigzag``."""
    return code >> 1 if not code & 1 else -((code + 1) >> 1)


@dataclass(frozen=True, slots=True)
class SignedIntVector:
    """Integers of any sign as one string of fixed-width big-endian zigzag codes.

    Canonical: the width is always the fewest bytes that hold the largest code (1 for an empty
    or all-zero vector), and the decoder refuses any other width, so a sequence of integers has
    exactly one encoding (signatures and digests over it stay canonical). Proofs use it for
    their long integer sequences (``protocols.zk.codec``): one CBOR item per sequence instead
    of one (or two, for bignums) per integer.
    """

    values: tuple[int, ...]

    @classmethod
    def of(cls, values: Any) -> SignedIntVector:
        return cls(tuple(int(v) for v in values))

    def __len__(self) -> int:
        return len(self.values)

    @property
    def width(self) -> int:
        """Bytes per value on the wire."""
        return _minimal_width(max((zigzag(v) for v in self.values), default=0))

    def to_cbor(self) -> cbor2.CBORTag:
        codes = [zigzag(v) for v in self.values]
        width = _minimal_width(max(codes, default=0))
        packed = b"".join(c.to_bytes(width, "big") for c in codes)
        return cbor2.CBORTag(TAG_SIGNED_INT_VECTOR, [width, packed])


def _minimal_width(largest: int) -> int:
    return max(1, (largest.bit_length() + 7) // 8)


def _encode_default(encoder: Any, value: Any) -> None:
    if isinstance(value, np.ndarray):
        encoder.encode(_ndarray_to_cbor(value))
    elif isinstance(value, (BigIntVector, SignedIntVector)):
        encoder.encode(value.to_cbor())
    elif isinstance(value, np.integer):
        encoder.encode(int(value))
    elif isinstance(value, tuple):
        encoder.encode(list(value))
    else:
        raise TypeError(f"cannot put a {type(value).__name__} on the wire")


def _ndarray_to_cbor(array: np.ndarray) -> cbor2.CBORTag:
    little = array.dtype.newbyteorder("<") if array.dtype.byteorder == ">" else array.dtype
    tag = _TYPED_ARRAY_TAGS.get(little.str)
    if tag is None:
        raise TypeError(f"numpy dtype {array.dtype} is not supported on the wire")
    data = np.ascontiguousarray(array, dtype=little).tobytes()
    return cbor2.CBORTag(TAG_NDARRAY, [list(array.shape), cbor2.CBORTag(tag, data)])


def _reject_floats(value: Any) -> None:
    if isinstance(value, float):
        raise TypeError("CBOR floats are not allowed in signed payloads; use fixed point or arrays")
    if isinstance(value, (list, tuple)):
        for item in value:
            _reject_floats(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"map keys must be text, got {type(key).__name__}")
            _reject_floats(item)


def encode_payload(payload: Any) -> bytes:
    """Canonical CBOR of a payload (used for bodies and for digests of payloads)."""
    _reject_floats(payload)
    return cbor2.dumps(payload, canonical=True, default=_encode_default)


def _forbidden_tag(*_args: Any) -> Any:
    raise WireError("a CBOR tag that the wire format does not allow")


_SEMANTIC_OVERRIDES = dict.fromkeys(_FORBIDDEN_SEMANTIC_TAGS, _forbidden_tag)


class _TypedArray:
    __slots__ = ("data", "dtype")

    def __init__(self, dtype: np.dtype, data: bytes) -> None:
        self.dtype, self.data = dtype, data


class _TagHook:
    """cbor2's tag hook for one decode; counts the packed integers of all vectors together.

    Each packed value becomes a Python integer (~28 bytes and up, for as little as one byte on
    the wire), so without a total a payload of many vectors could cost ~30 times its size.
    """

    def __init__(self, max_values: int) -> None:
        self.max_values, self.values = max_values, 0

    def count(self, value: Any) -> None:
        if isinstance(value, (list, tuple)) and len(value) == 2:
            width, packed = value
            if isinstance(width, int) and width >= 1 and isinstance(packed, bytes):
                self.values += len(packed) // width
                if self.values > self.max_values:
                    raise WireError(f"more than {self.max_values} packed integers in one payload")

    def __call__(self, tag: cbor2.CBORTag, immutable: bool) -> Any:
        if tag.tag in (TAG_BIGINT_VECTOR, TAG_SIGNED_INT_VECTOR):
            self.count(tag.value)
        return _tag_hook(tag, immutable)


def _tag_hook(tag: cbor2.CBORTag, _immutable: bool) -> Any:
    if tag.tag in _DTYPE_BY_TAG:
        if not isinstance(tag.value, bytes):
            raise WireError("a typed array must hold a byte string")
        dtype = _DTYPE_BY_TAG[tag.tag]
        if len(tag.value) % dtype.itemsize:
            raise WireError("typed array length is not a multiple of its element size")
        return _TypedArray(dtype, tag.value)
    if tag.tag == TAG_NDARRAY:
        return _decode_ndarray(tag.value)
    if tag.tag == TAG_BIGINT_VECTOR:
        return _decode_bigint_vector(tag.value)
    if tag.tag == TAG_SIGNED_INT_VECTOR:
        return decode_signed_vector(tag.value)
    raise WireError(f"CBOR tag {tag.tag} is not part of the wire format")


def _decode_ndarray(value: Any) -> np.ndarray:
    if not (isinstance(value, (list, tuple)) and len(value) == 2):
        raise WireError("tag 40 must hold [dimensions, typed array]")
    dims, typed = value
    if not isinstance(typed, _TypedArray):
        raise WireError("tag 40 must hold a typed array")
    if not isinstance(dims, (list, tuple)) or not all(
        isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in dims
    ):
        raise WireError("array dimensions must be non-negative integers")
    count = int(np.prod(dims, dtype=object)) if dims else 1
    if count * typed.dtype.itemsize != len(typed.data):
        raise WireError("array shape does not match its data length")
    return np.frombuffer(typed.data, dtype=typed.dtype).reshape(tuple(dims)).copy()


def _packed_fields(value: Any, what: str) -> tuple[int, bytes]:
    """``[width, bytes]`` of a packed vector, checked before any value is built."""
    if not (isinstance(value, (list, tuple)) and len(value) == 2):
        raise WireError(f"a {what} must hold [width, bytes]")
    width, packed = value
    if not isinstance(width, int) or isinstance(width, bool) or not 1 <= width <= 65536:
        raise WireError(f"{what} width out of range")
    if not isinstance(packed, bytes) or len(packed) % width:
        raise WireError(f"{what} length is not a multiple of its width")
    if len(packed) // width > MAX_ITEMS:
        # Each value becomes a Python int (~36 bytes for 2 wire bytes): bounded like items.
        raise WireError(f"a {what} of more than {MAX_ITEMS} values")
    return width, packed


def decode_signed_vector(value: Any) -> SignedIntVector:
    """Strictly decode the ``[width, bytes]`` inside a signed-vector tag (``WireError`` if bad)."""
    width, packed = _packed_fields(value, "signed-integer vector")
    codes = [int.from_bytes(packed[i : i + width], "big") for i in range(0, len(packed), width)]
    if width != _minimal_width(max(codes, default=0)):
        raise WireError("signed-integer vector width is not the minimal one (non-canonical)")
    return SignedIntVector(tuple(unzigzag(c) for c in codes))


def _decode_bigint_vector(value: Any) -> BigIntVector:
    width, packed = _packed_fields(value, "big-integer vector")
    values = tuple(
        int.from_bytes(packed[i : i + width], "big") for i in range(0, len(packed), width)
    )
    return BigIntVector(values, width)


def _freeze_check(value: Any) -> Any:
    """Turn decoded tuples back into lists; refuse floats, ``undefined`` and simple values."""
    if isinstance(value, float):
        raise WireError("CBOR floats are not allowed in signed payloads")
    if value is cbor2.undefined or isinstance(value, cbor2.CBORSimpleValue):
        raise WireError("CBOR undefined and simple values are not part of the wire format")
    if isinstance(value, _TypedArray):
        return np.frombuffer(value.data, dtype=value.dtype).copy()
    if isinstance(value, (list, tuple)):
        return [_freeze_check(v) for v in value]
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise WireError("map keys must be text")
        return {k: _freeze_check(v) for k, v in value.items()}
    return value


def count_items(data: bytes, limit: int = MAX_ITEMS) -> int:
    """Count the CBOR data items in ``data`` without building them; refuse more than ``limit``.

    Decoded Python objects can take ~70x the bytes of the CBOR that describes them (an empty map
    is one byte on the wire), so the per-sender byte budget alone does not bound memory. This
    walk touches only headers and skips string contents, so legitimate payloads (whose bulk is
    byte strings: arrays, big-integer vectors) cost almost nothing to check.
    """
    size, pos, pending, items = len(data), 0, 1, 0
    while pending:
        if pos >= size:
            raise WireError("truncated CBOR")
        initial = data[pos]
        pos += 1
        major, info = initial >> 5, initial & 31
        if info < 24:
            argument = info
        elif info <= 27:
            width = 1 << (info - 24)
            if pos + width > size:
                raise WireError("truncated CBOR")
            argument = int.from_bytes(data[pos : pos + width], "big")
            pos += width
        else:
            raise WireError("indefinite-length or reserved CBOR item")
        pending -= 1
        items += 1
        if items > limit:
            raise WireError(f"more than {limit} CBOR items in one payload")
        if major in (2, 3):
            if pos + argument > size:
                raise WireError("truncated CBOR string")
            pos += argument
        elif major == 4:
            pending += argument
        elif major == 5:
            pending += 2 * argument
        elif major == 6:
            pending += 1
    if pos != size:
        raise WireError("trailing bytes after the CBOR item")
    return items


def decode_payload(data: bytes, *, max_values: int = MAX_ITEMS) -> Any:
    """Strictly decode canonical CBOR produced by ``encode_payload``.

    ``max_values`` bounds the packed integers of all big-integer and signed-integer vectors
    together (payloads over several frames pass a bound from their agreed shape).
    """
    count_items(data)
    try:
        raw = cbor2.loads(
            data,
            tag_hook=_TagHook(max_values),
            semantic_decoders=_SEMANTIC_OVERRIDES,
            allow_indefinite=False,
            allow_duplicate_keys=False,
            max_depth=MAX_DEPTH,
        )
    except WireError:
        raise
    except (cbor2.CBORError, ValueError, TypeError, OverflowError, RecursionError) as exc:
        cause = exc.__cause__
        if isinstance(cause, WireError):
            raise cause from None
        raise WireError(f"malformed CBOR: {exc}") from None
    return _freeze_check(raw)


#: items of a list ``brief`` shows before it counts the rest
BRIEF_ITEMS = 8


def brief(value: Any, depth: int = 0) -> str:
    """A peer's (possibly hostile) declaration for an error message, short whatever it is: a
    declaration may fill a frame (its ``repr`` several times that), and ``repr`` of an integer
    of more than 4300 digits raises ``ValueError``, which would end the step naming nobody."""
    if isinstance(value, bool) or value is None:
        return repr(value)
    if isinstance(value, int):
        bits = value.bit_length()
        return repr(value) if bits <= 64 else f"<an integer of {bits} bits>"
    if isinstance(value, list) and depth < 2:
        shown = [brief(item, depth + 1) for item in value[:BRIEF_ITEMS]]
        if len(value) > BRIEF_ITEMS:
            shown.append(f"... {len(value) - BRIEF_ITEMS} more")
        return "[" + ", ".join(shown) + "]"
    if isinstance(value, (bytes, str, list, dict)):
        return f"<{type(value).__name__} of length {len(value)}>"
    return f"<{type(value).__name__}>"
