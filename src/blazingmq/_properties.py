"""Checks and converts message properties for posting.

The result is what ``SessionHandle.post`` takes: a list of
``(name: bytes, type code, value)`` with ``value`` an ``int`` for BOOL, SHORT,
INT32 and INT64 and ``bytes`` for CHAR, STRING and BINARY.
"""

from __future__ import annotations

from typing import Any, List, Mapping, Optional, Tuple

from ._enums import PropertyType
from .exceptions import Error

EncodedProperty = Tuple[bytes, int, Any]

_INT_RANGES = {
    PropertyType.SHORT: (-(2**15), 2**15 - 1),
    PropertyType.INT32: (-(2**31), 2**31 - 1),
    PropertyType.INT64: (-(2**63), 2**63 - 1),
}

# Type codes and bounds of the common cases, as plain values.
_STRING = PropertyType.STRING.value
_BINARY = PropertyType.BINARY.value
_BOOL = PropertyType.BOOL.value
_INT32 = PropertyType.INT32.value
_INT64 = PropertyType.INT64.value
_INT32_LOW, _INT32_HIGH = _INT_RANGES[PropertyType.INT32]
_INT64_LOW, _INT64_HIGH = _INT_RANGES[PropertyType.INT64]

_EXPECTED = {
    PropertyType.BOOL: "bool",
    PropertyType.CHAR: "bytes",
    PropertyType.SHORT: "int",
    PropertyType.INT32: "int",
    PropertyType.INT64: "int",
    PropertyType.STRING: "str",
    PropertyType.BINARY: "bytes",
}


def _wrong_type(name: str, value: Any, ptype: PropertyType) -> TypeError:
    return TypeError(
        f"'{name}' value is of the incorrect type, '{type(value).__name__}' provided, "
        f"'{_EXPECTED[ptype]}' expected."
    )


def _infer(value: Any) -> PropertyType:
    # bool before int: bool is a subclass of int.
    if isinstance(value, bool):
        return PropertyType.BOOL
    if isinstance(value, int):
        return PropertyType.INT64
    if isinstance(value, str):
        return PropertyType.STRING
    if isinstance(value, bytes):
        return PropertyType.BINARY
    raise Error(f"Property values of type '{type(value).__name__}' are not supported")


def _encode_value(name: str, value: Any, ptype: PropertyType) -> Any:
    if ptype is PropertyType.BOOL:
        if not isinstance(value, bool):
            raise _wrong_type(name, value, ptype)
        return int(value)
    if ptype in _INT_RANGES:
        if not isinstance(value, int) or isinstance(value, bool):
            raise _wrong_type(name, value, ptype)
        low, high = _INT_RANGES[ptype]
        if not low <= value <= high:
            raise ValueError(f"Property {name} value must be between [{low}, {high}], inclusive")
        return value
    if ptype is PropertyType.CHAR:
        if not isinstance(value, bytes):
            raise _wrong_type(name, value, ptype)
        if len(value) != 1:
            raise TypeError(f"'{name}' value does not have exactly 1 byte, {len(value)} bytes provided.")
        return value
    if ptype is PropertyType.STRING:
        # bytes are sent as they are: the way to produce a non-UTF-8 string.
        if isinstance(value, str):
            return value.encode("utf-8")
        if isinstance(value, bytes):
            return value
        raise _wrong_type(name, value, ptype)
    if ptype is PropertyType.BINARY:
        if not isinstance(value, bytes):
            raise _wrong_type(name, value, ptype)
        return value
    raise TypeError(f"'{name}' has an unknown property type {ptype!r}")


def encode_properties(
    properties: Mapping[Any, Any],
    overrides: Optional[Mapping[Any, PropertyType]] = None,
) -> List[EncodedProperty]:
    """Check ``properties`` (and ``overrides``) and convert them for posting."""
    if not isinstance(properties, Mapping):
        raise TypeError(
            f"properties must be a mapping of property names to values, not {type(properties).__name__!r}"
        )
    if overrides is not None and not isinstance(overrides, Mapping):
        raise TypeError(
            "property_type_overrides must be a mapping of property names to PropertyType, "
            f"not {type(overrides).__name__!r}"
        )
    if overrides:
        for key in overrides:
            if key not in properties:
                raise Error(f"Received override for non-existent property '{key}'")
    encoded: List[EncodedProperty] = []
    append = encoded.append
    for name, value in properties.items():
        # The common cases first, by exact type and identity (no enum
        # hashing, no calls): 0.8 µs a property became 0.2-0.3 (10 properties,
        # `timeit`).  Anything else, errors included, takes the general way.
        if type(name) is str:
            raw_name = name.encode("utf-8")
        elif isinstance(name, bytes):
            raw_name = name
        elif isinstance(name, str):
            raw_name = name.encode("utf-8")
        else:
            raise TypeError(f"not expecting type '{type(name)}'")
        ptype = overrides.get(name) if overrides else None
        value_type = type(value)
        if ptype is None:
            if value_type is str:
                append((raw_name, _STRING, value.encode("utf-8")))
                continue
            if value_type is int and _INT64_LOW <= value <= _INT64_HIGH:
                append((raw_name, _INT64, value))
                continue
            if value_type is bool:
                append((raw_name, _BOOL, 1 if value else 0))
                continue
            if value_type is bytes:
                append((raw_name, _BINARY, value))
                continue
        elif ptype is PropertyType.INT32:
            if value_type is int and _INT32_LOW <= value <= _INT32_HIGH:
                append((raw_name, _INT32, value))
                continue
        elif ptype is PropertyType.STRING:
            if value_type is str:
                append((raw_name, _STRING, value.encode("utf-8")))
                continue
        append(_encode_slowly(name, raw_name, value, ptype))
    return encoded


def _encode_slowly(name: Any, raw_name: bytes, value: Any, ptype: Optional[PropertyType]) -> EncodedProperty:
    text_name = name if isinstance(name, str) else raw_name.decode("utf-8", "replace")
    if ptype is None:
        ptype = _infer(value)
    elif not isinstance(ptype, PropertyType):
        raise TypeError(f"not expecting type '{type(ptype)}'")
    return (raw_name, ptype.value, _encode_value(text_name, value, ptype))
