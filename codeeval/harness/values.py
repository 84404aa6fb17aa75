"""Plain typed data on the channel: how values cross the sandbox boundary.

Results travel from the in-sandbox driver to the host, and test inputs the other way, as
JSON with tags for what JSON cannot say. A JSON object is *always* a tag:

=================  ================================================
``null``, bools,   None, bool, str, int (exact types only)
strings, numbers   float (``NaN``/``Infinity`` allowed)
JSON array         list
``{"$tuple": []}`` tuple, and likewise ``$set``, ``$frozenset``
``{"$dict": []}``  dict, as a list of ``[key, value]`` pairs
``{"$bytes": s}``  bytes (latin-1 text); ``$bytearray`` likewise
``{"$complex":}``  ``[real, imag]``
``{"$int": s}``    an int too long for a JSON number (hex text)
``{"$opaque": s}`` anything else, by type name: never equal to anything
=================  ================================================

The driver sends builtins as themselves and subclasses of builtins (``Counter``,
``namedtuple``, an int subclass) as their base *value*, read with the base class's own
methods; anything else (an object whose ``__eq__`` always says True, a numpy scalar)
arrives as ``$opaque`` and fails the comparison. Either way the host compares plain values,
so nothing a program defines about equality reaches the judgement. :func:`decode` rebuilds
Python values on the host, where :mod:`codeeval.grading.compare` compares them with strict
types.
"""

from __future__ import annotations

from typing import Any

from codeeval.errors import CodeevalError

_BIG = 1 << 1000


class ProtocolError(CodeevalError, ValueError):
    """A message that does not follow the value encoding (a program's failure, not ours)."""


class Opaque:
    """A value the driver could not encode exactly. Equal to nothing, itself included."""

    __slots__ = ("type_name",)

    def __init__(self, type_name: str) -> None:
        self.type_name = type_name

    def __eq__(self, other: object) -> bool:
        return False

    def __hash__(self) -> int:
        return id(self)

    def __repr__(self) -> str:
        return f"<opaque {self.type_name}>"


class Digest:
    """A large result the driver sent as the SHA-256 of its canonical encoding.

    Two digests are equal when their hashes are; a digest equals no other value.
    """

    __slots__ = ("hex", "size")

    def __init__(self, hex_: str, size: int) -> None:
        self.hex = hex_
        self.size = size

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Digest) and other.hex == self.hex

    def __hash__(self) -> int:
        return hash(self.hex)

    def __repr__(self) -> str:
        return f"<value of {self.size} bytes, sha256 {self.hex[:16]}...>"


def encode(value: Any, _depth: int = 0) -> Any:
    """Encode a host value (a test input) into tagged JSON data.

    Raises:
        ProtocolError: the value has a type the encoding has no tag for, or is too deep.
    """
    if _depth > 500:
        raise ProtocolError("value nested more than 500 levels")
    t = type(value)
    d = _depth + 1
    if value is None or t is bool or t is str or t is float:
        return value
    if t is int:
        return value if -_BIG < value < _BIG else {"$int": hex(value)}
    if t is list:
        return [encode(v, d) for v in value]
    if t is tuple:
        return {"$tuple": [encode(v, d) for v in value]}
    if t is set or t is frozenset:
        return {"$" + t.__name__: [encode(v, d) for v in value]}
    if t is dict:
        return {"$dict": [[encode(k, d), encode(v, d)] for k, v in value.items()]}
    if t is bytes or t is bytearray:
        return {"$" + t.__name__: value.decode("latin-1")}
    if t is complex:
        return {"$complex": [value.real, value.imag]}
    if t is Opaque:
        return {"$opaque": value.type_name}
    if t is Digest:
        return {"$digest": value.hex, "size": value.size}
    raise ProtocolError(f"cannot encode a value of type {t.__name__}")


#: Types that JSON carries as themselves.
SCALAR_TYPES = frozenset({int, float, str, bool, type(None)})


def decode(data: Any, _depth: int = 0) -> Any:
    """Decode tagged JSON data (from :mod:`json`) into Python values.

    Raises:
        ProtocolError: the data is not a valid encoding.
    """
    if _depth > 1000:
        raise ProtocolError("value nested more than 1000 levels")
    if data is None or isinstance(data, bool | int | float | str):
        return data
    d = _depth + 1
    if isinstance(data, list):
        if set(map(type, data)) <= SCALAR_TYPES:
            return data  # plain scalars decode to themselves (the common large output)
        return [decode(v, d) for v in data]
    if isinstance(data, dict) and "$digest" in data and len(data) == 2:
        hex_, size = data["$digest"], data.get("size")
        if (not isinstance(hex_, str) or len(hex_) != 64 or not isinstance(size, int)
                or isinstance(size, bool)):
            raise ProtocolError("bad $digest value")
        return Digest(hex_, size)
    if not isinstance(data, dict) or len(data) != 1:
        raise ProtocolError(f"not a tagged value: {str(data)[:80]}")
    (tag, body), = data.items()
    try:
        if tag == "$tuple":
            return tuple(decode(v, d) for v in _list(body))
        if tag == "$set":
            return {decode(v, d) for v in _list(body)}
        if tag == "$frozenset":
            return frozenset(decode(v, d) for v in _list(body))
        if tag == "$dict":
            return {decode(k, d): decode(v, d) for k, v in _list(body)}
        if tag == "$bytes":
            return _str(body).encode("latin-1")
        if tag == "$bytearray":
            return bytearray(_str(body).encode("latin-1"))
        if tag == "$complex":
            re_, im = _list(body)
            return complex(float(re_), float(im))
        if tag == "$int":
            return int(_str(body), 16)
        if tag == "$opaque":
            return Opaque(_str(body))
    except (TypeError, ValueError, UnicodeError) as e:
        raise ProtocolError(f"bad {tag} value: {e}") from None
    raise ProtocolError(f"unknown tag {tag!r}")


def _list(body: Any) -> list[Any]:
    if not isinstance(body, list):
        raise TypeError("expected a list")
    return body


def _str(body: Any) -> str:
    if not isinstance(body, str):
        raise TypeError("expected a string")
    return body
