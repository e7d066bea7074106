"""What a session tells a window: plain values, no Qt. `store.poll(timeout)` hands them out."""
from __future__ import annotations

from dataclasses import dataclass, field

from .model import Change, Review


@dataclass(frozen=True)
class ChangeEvent:
    """Another reviewer (or another window) changed an image: the change and the image's review now."""
    change: Change
    review: Review


@dataclass(frozen=True)
class LeaseEvent:
    """The images other reviewers have open now: image -> reviewer."""
    held: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ConnectionEvent:
    """The team server went away or came back; pending: changes kept in the local journal, not yet sent."""
    online: bool
    pending: int
    message: str


@dataclass(frozen=True)
class Progress:
    """'n of N reviewed': by the team (an image whose current status is not the first) and by this reviewer (an
    image whose latest status from this reviewer is not the first)."""
    reviewed: int
    mine: int
    total: int

    def text(self) -> str:
        return f"{self.reviewed} of {self.total} reviewed (mine: {self.mine})"


@dataclass(frozen=True)
class ConnectionState:
    online: bool = True
    pending: int = 0
    message: str = ""


def connection_message(online: bool, pending: int) -> str:
    if online:
        return "online" if not pending else f"online — sending {pending} waiting change{'s' * (pending != 1)}"
    return f"offline — {pending} change{'s' * (pending != 1)} waiting"
