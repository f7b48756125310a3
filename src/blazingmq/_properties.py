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
    for name, value in properties.items():
        if isinstance(name, str):
            raw_name = name.encode("utf-8")
            text_name = name
        elif isinstance(name, bytes):
            raw_name = name
            text_name = name.decode("utf-8", "replace")
        else:
            raise TypeError(f"not expecting type '{type(name)}'")
        ptype = overrides.get(name) if overrides else None
        if ptype is None:
            ptype = _infer(value)
        elif not isinstance(ptype, PropertyType):
            raise TypeError(f"not expecting type '{type(ptype)}'")
        encoded.append((raw_name, ptype.value, _encode_value(text_name, value, ptype)))
    return encoded
