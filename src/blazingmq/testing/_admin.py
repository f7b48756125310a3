"""Admin commands sent to a broker over its TCP port.

A broker takes admin commands (``CLUSTERS CLUSTER <name> STATUS``,
``... STATE ELECTOR SET quorum 1``, ``HELP``) from a connection that
introduces itself as an admin client, and answers each one on that
connection.  This is BlazingMQ's wire protocol with JSON-encoded control
messages: every event is an 8-byte header (the event's length in bytes,
then its type, the header's length in 4-byte words and the encoding)
followed by the JSON text, padded to a multiple of 4 bytes with 1 to 4
bytes that each hold the padding's length.
"""

from __future__ import annotations

import itertools
import json
import os
import socket
import struct
from typing import Any, Dict

__all__ = ["AdminError", "admin_command"]

_CONTROL = 1
_HEARTBEAT_REQUEST = 11
_HEARTBEAT_RESPONSE = 12
_PROTOCOL_VERSION_1 = 0x40  # the top two bits of the type byte
_HEADER_WORDS = 2
_JSON = 0x20  # the encoding bits of the type-specific byte

_request_ids = itertools.count(1)


class AdminError(OSError):
    """The broker could not be reached, refused the admin connection, or
    did not answer in time."""


def _event(event_type: int, body: bytes, type_specific: int) -> bytes:
    padding = 4 - len(body) % 4
    size = 8 + len(body) + padding
    header = struct.pack(">IBBBB", size, _PROTOCOL_VERSION_1 | event_type, _HEADER_WORDS, type_specific, 0)
    return header + body + bytes([padding]) * padding


def _receive_exactly(sock: socket.socket, size: int) -> bytes:
    data = bytearray()
    while len(data) < size:
        part = sock.recv(size - len(data))
        if not part:
            raise AdminError("the broker closed the admin connection")
        data += part
    return bytes(data)


def _receive_control(sock: socket.socket) -> Dict[str, Any]:
    """The next control message, answering the broker's heartbeats on the
    way."""
    while True:
        header = _receive_exactly(sock, 8)
        size = struct.unpack(">I", header[:4])[0] & 0x7FFFFFFF
        event_type = header[4] & 0x3F
        body = _receive_exactly(sock, size - 8) if size > 8 else b""
        if event_type == _HEARTBEAT_REQUEST:
            sock.sendall(_event(_HEARTBEAT_RESPONSE, b"", 0))
            continue
        if event_type != _CONTROL or not body:
            continue
        text = body[: -body[-1]].decode("utf-8", "replace")
        message: Dict[str, Any] = json.loads(text)
        return message


def _send_control(sock: socket.socket, message: Dict[str, Any]) -> None:
    sock.sendall(_event(_CONTROL, json.dumps(message).encode(), _JSON))


def admin_command(port: int, command: str, timeout: float = 10.0) -> str:
    """Run ``command`` on the broker listening on ``127.0.0.1:port`` and
    return its answer (text; JSON when the command starts with ``ENCODING
    JSON_COMPACT``).

    Raises:
        AdminError: No answer within ``timeout`` seconds, or the connection
            failed or was refused.
    """
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            _send_control(
                sock,
                {
                    "clientIdentity": {
                        "protocolVersion": 999999,
                        "sdkVersion": 999999,
                        "clientType": "E_TCPADMIN",
                        "processName": "blazingmq.testing",
                        "pid": os.getpid(),
                        "sessionId": 1,
                        "hostName": "localhost",
                        "features": "PROTOCOL_ENCODING:JSON",
                        "clusterName": "",
                        "clusterNodeId": -1,
                        "sdkLanguage": "E_CPP",
                        "guidInfo": {"clientId": "", "nanoSecondsFromEpoch": 0},
                    }
                },
            )
            response = _receive_control(sock)
            result = response.get("brokerResponse", {}).get("result", {})
            if result.get("category", "E_SUCCESS") != "E_SUCCESS":
                raise AdminError(f"the broker refused the admin connection: {result}")
            request_id = next(_request_ids)
            _send_control(sock, {"rId": request_id, "adminCommand": {"command": command}})
            while True:
                answer = _receive_control(sock)
                if "adminCommandResponse" in answer:
                    return str(answer["adminCommandResponse"]["text"])
    except socket.timeout:
        raise AdminError(f"no answer to {command!r} from port {port} within {timeout} s") from None
    except AdminError:
        raise
    except (OSError, ValueError, KeyError) as error:
        raise AdminError(f"admin command {command!r} to port {port} failed: {error}") from error
