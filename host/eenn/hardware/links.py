"""Links between a device and an edge host (boards/links/<name>.toml): what `eenn partition`
charges for sending a boundary tensor and receiving the answer."""

import tomllib
from dataclasses import dataclass, fields

from .. import resources
from ..errors import EennError

LINKS_DIR = resources.boards_dir() / "links"


@dataclass(frozen=True)
class LinkProfile:
    """A link between a device and an edge host: its rate, what it draws beyond the CPU, and
    the fixed turnaround of an exchange."""

    name: str
    description: str
    bytes_per_s: float
    tx_mw: float  # drawn beyond the CPU while sending
    rx_mw: float  # drawn beyond the CPU while receiving
    round_trip_s: float  # fixed per exchange: the edge host's turnaround
    source: str

    def seconds(self, sent: int, received: int) -> float:
        return (sent + received) / self.bytes_per_s + self.round_trip_s


def names() -> list:
    return sorted(p.stem for p in LINKS_DIR.glob("*.toml"))


def load(name: str) -> LinkProfile:
    path = LINKS_DIR / f"{name}.toml"
    if not path.exists():
        raise EennError(f"unknown link '{name}'; known links: {', '.join(names())}")
    try:
        raw = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as e:
        raise EennError(f"{path}: {e}") from None
    known = [f.name for f in fields(LinkProfile)]
    if set(raw) != set(known):
        wrong = sorted(set(raw) ^ set(known))[0]
        raise EennError(f"{path}: {'unknown' if wrong in raw else 'missing'} key '{wrong}'")
    link = LinkProfile(**raw)
    if link.bytes_per_s <= 0 or min(link.tx_mw, link.rx_mw, link.round_trip_s) < 0:
        raise EennError(f"{path}: bytes_per_s must be positive, powers and round trip not negative")
    return link
