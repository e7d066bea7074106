"""Before Dask is handed a scheduler address: is a Dask scheduler answering there, within a few seconds?

Dask reads the first 8 bytes a peer sends as the length of what follows and allocates it: an HTTP server's
"HTTP/1.1" became a 3 EiB request, and a listener that never answers kept the client waiting past its own
timeout. A Dask scheduler greets first (its handshake, a few hundred bytes, as soon as it accepts), so the probe
connects with a timeout, reads those 8 bytes with a timeout, and checks that they announce a plausible greeting.
Plain TCP addresses are probed so; tls://, ws:// and wss:// addresses get a connection within the same timeout
(their greeting is encrypted or framed); ucx:// goes to Dask as given where UCX for Python is installed, and
inproc:// where a scheduler by that address runs in this very process (the window's, the API's); any other scheme is
refused
before Dask sees it (its client, half made, waited 30 s at exit to close).
"""
from __future__ import annotations

import importlib.util
import socket
import struct

from .errors import OptionError, os_reason

PROBE_TIMEOUT_S = 5.0
SCHEMES = ("tcp", "tls", "ws", "wss", "ucx", "inproc")     # the addresses a Dask client connects to
CONNECT_ONLY = ("tls", "ws", "wss")
MAX_GREETING = 2**20      # a scheduler's handshake is a few hundred bytes


def split_address(address: str) -> tuple[str, str, int]:
    """(scheme, host, port) of 'tcp://host:port', 'host:port' or 'tcp://[::1]:port'; OptionError otherwise."""
    scheme, sep, rest = address.strip().partition("://")
    if not sep:
        scheme, rest = "tcp", address.strip()
    host, _, port = rest.rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if scheme not in SCHEMES:
        raise OptionError(f"--scheduler {address!r}: {scheme}:// is no Dask scheduler address (give one like "
                          f"tcp://host:8786; Dask connects by {', '.join(SCHEMES)})")
    if scheme == "inproc" and not _in_this_process(address):
        raise OptionError(f"--scheduler {address!r}: no scheduler by that inproc:// address runs in this process "
                          "(inproc:// names one inside the same Python process); give its tcp:// address")
    if scheme == "ucx" and not any(importlib.util.find_spec(m) for m in ("ucp", "ucxx")):
        raise OptionError(f"--scheduler {address!r}: ucx:// needs UCX for Python (ucx-py or ucxx), which this "
                          "Python does not have; give the scheduler's tcp:// address")
    if scheme in ("tcp", *CONNECT_ONLY) and (not host or not port.isdigit() or not 0 < int(port) < 65536):
        raise OptionError(f"--scheduler {address!r}: give an address like {scheme}://host:8786")
    return scheme, host, int(port) if port.isdigit() else 0


def _in_this_process(address: str) -> bool:
    try:
        from distributed.comm.inproc import global_manager
        return global_manager.get_listener_for(address.strip().partition("://")[2]) is not None
    except (ImportError, ValueError, AttributeError):
        return False


def probe_scheduler(address: str, timeout: float | None = None) -> None:
    """OptionError naming the address unless a Dask scheduler greets there within the timeout."""
    timeout = PROBE_TIMEOUT_S if timeout is None else timeout
    scheme, host, port = split_address(address)
    if scheme not in ("tcp", *CONNECT_ONLY):
        return
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            if scheme in CONNECT_ONLY:
                return
            sock.settimeout(timeout)
            head = _receive(sock, 8)
    except socket.timeout:
        raise OptionError(f"--scheduler {address}: no answer within {timeout:g} s; not a Dask scheduler, or one that "
                          "is not responding") from None
    except OSError as exc:
        raise OptionError(f"--scheduler {address}: cannot connect ({os_reason(exc, writing=False)}); is the "
                          "scheduler running?") from None
    if len(head) < 8:
        raise OptionError(f"--scheduler {address}: the server closed the connection; not a Dask scheduler")
    (length,) = struct.unpack("<Q", head)
    if not 0 < length <= MAX_GREETING:
        shown = head.decode("ascii", "replace").replace("\ufffd", "?")
        raise OptionError(f"--scheduler {address}: the server there is not a Dask scheduler (it answered "
                          f"{shown!r}...)")


def _receive(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            break
        data += chunk
    return data
