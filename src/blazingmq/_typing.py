"""Type aliases of the public API."""

from typing import Dict, Union

from ._enums import PropertyType

#: A property value: ``bool``, ``int``, ``str`` or ``bytes``.
PropertyValue = Union[bool, int, str, bytes]
#: Message properties, name to value (``Message.properties``, ``post(properties=...)``).
PropertyValueDict = Dict[str, PropertyValue]
#: The type of each property, name to :class:`PropertyType` (``Message.property_types``).
PropertyTypeDict = Dict[str, PropertyType]
