"""Type aliases of the public API."""

from typing import Dict, Union

from ._enums import PropertyType

PropertyValue = Union[bool, int, str, bytes]
PropertyValueDict = Dict[str, PropertyValue]
PropertyTypeDict = Dict[str, PropertyType]
