"""Boards are data: one TOML file per board in boards/ (see boards/README.md).

`get(name)` finds a board by name or alias and checks its fields; nothing here knows a
particular board.
"""

import tomllib
from dataclasses import dataclass, replace
from pathlib import Path

from .. import resources
from ..errors import EennError
from ..util import fields

BOARDS_DIR = resources.boards_dir()
UART_DRIVERS = ("cmsdk-uart", "nrf-uart", "stm32-usart")
COUNTERS = ("dwt", "systick", "nrf-timer")
TIMER_HZ = {"nrf-timer": 16_000_000}  # counters that tick at their own rate, not the core clock's
DSP_CORES = ("cortex-m4", "cortex-m7", "cortex-m33", "cortex-m55")  # cores with the DSP extension (SMLAD, SXTB16)
MVE_CORES = ("cortex-m55",)  # cores with Helium, the M-profile vector extension
# eenn.codegen.kernels: each path and the paths a kernel without a file of its own there falls back to, in order
KERNEL_PATHS = {"portable": ("portable",), "armv6m": ("armv6m", "portable"), "dsp": ("dsp", "portable"),
                "mve": ("mve", "dsp", "portable")}
PATH_CORES = {"dsp": DSP_CORES, "mve": MVE_CORES}
FLASH_TOOLS = {"pyocd": "target", "openocd": "scripts", "nrfjprog": "target", "none": "note"}  # tool: key it needs


@dataclass(frozen=True)
class Memory:
    flash_origin: int
    flash_bytes: int
    ram_origin: int
    ram_bytes: int


@dataclass(frozen=True)
class Uart:
    driver: str
    base: int
    baud: int
    tx_pin: "int | None" = None
    rx_pin: "int | None" = None


@dataclass(frozen=True)
class Cost:
    counter: str
    unit: str


@dataclass(frozen=True)
class Power:
    active_mw: float
    supply_v: float
    source: str


@dataclass(frozen=True)
class Flash:
    tool: str
    target: "str | None" = None  # pyocd's target name, or nrfjprog's device family
    scripts: tuple = ()  # openocd's configuration scripts
    note: "str | None" = None  # tool "none": how the board is loaded instead


@dataclass(frozen=True)
class Emulation:
    machine: str
    uart_driver: str
    uart_base: int
    flash_origin: int
    ram_origin: int
    systick_hz: int
    note: str


@dataclass(frozen=True)
class Board:
    name: str
    aliases: tuple
    description: str
    cpu: str
    cflags: tuple
    fpu: bool
    clock_hz: int
    clock_note: str
    memory: Memory
    uart: Uart
    cost: Cost
    flash: Flash
    power: "Power | None" = None
    emulation: "Emulation | None" = None
    kernels: "str | None" = None  # the kernel path: "dsp" on a DSP core, else "portable" (given: as given)

    def latency_energy(self, cycles: float) -> "tuple[float, float | None]":
        """Seconds at the board's clock, and joules at its active power (None without a figure)."""
        seconds = cycles / self.clock_hz
        return seconds, None if self.power is None else seconds * self.power.active_mw * 1e-3

    def counter_hz(self, emulated: bool = False) -> float:
        """Ticks per second of the firmware's cost counter (under QEMU: per second of virtual time)."""
        if emulated:
            return self.emulation.systick_hz
        return TIMER_HZ.get(self.cost.counter, self.clock_hz)

    @property
    def emulated_uart(self) -> Uart:
        e = self.emulation
        return Uart(e.uart_driver, e.uart_base, self.uart.baud, self.uart.tx_pin, self.uart.rx_pin)


_POSITIVE = {"memory": ("flash_bytes", "ram_bytes"), "uart": ("baud",), "power": ("active_mw", "supply_v"),
             "emulation": ("systick_hz",), "": ("clock_hz",)}  # section ("": top level): keys that must be > 0
_ADDRESSES = {"memory": ("flash_origin", "ram_origin"), "uart": ("base",),
              "emulation": ("uart_base", "flash_origin", "ram_origin")}  # 32-bit addresses


def _read(path: Path) -> dict:
    try:
        return tomllib.loads(path.read_text())
    except UnicodeDecodeError:
        raise EennError(f"{path}: not a text file; a board file is TOML text (see boards/README.md)") from None
    except OSError as e:
        raise EennError(f"{path}: cannot read the board file ({e.strerror})") from None
    except tomllib.TOMLDecodeError as e:
        raise EennError(f"{path}: not valid TOML ({e})") from None


def _check_numbers(path: Path, section: str, table) -> None:
    where = f"{path} [{section}]" if section else str(path)
    for key in _POSITIVE.get(section, ()):
        value = getattr(table, key, None)
        if value is not None and value <= 0:
            raise EennError(f"{where}: '{key}' must be positive, got {value}")
    for key in _ADDRESSES.get(section, ()):
        value = getattr(table, key)
        if not 0 <= value < 1 << 32:
            raise EennError(f"{where}: '{key}' must be a 32-bit address, got {value:#x}")


def load(path: Path) -> Board:
    path = Path(path)
    raw = _read(path)
    nested = {"memory": Memory, "uart": Uart, "cost": Cost, "flash": Flash, "power": Power, "emulation": Emulation}
    for key, cls in nested.items():
        if key in raw:
            if not isinstance(raw[key], dict):
                raise EennError(f"{path}: '{key}' must be a table ([{key}])")
            raw[key] = fields.from_table(cls, raw[key], f"{path} [{key}]")
            _check_numbers(path, key, raw[key])
    raw.setdefault("aliases", [])
    raw.setdefault("cflags", [])
    board = fields.from_table(Board, raw, str(path))
    _check_numbers(path, "", board)
    best = "mve" if board.cpu in MVE_CORES else "dsp" if board.cpu in DSP_CORES else "armv6m"
    board = replace(board, kernels=board.kernels or best)
    if board.kernels not in KERNEL_PATHS:
        raise EennError(f"{path}: kernels must be one of {', '.join(KERNEL_PATHS)}, not '{board.kernels}'")
    cores = PATH_CORES.get(board.kernels)
    if cores is not None and board.cpu not in cores:
        extension = "the DSP extension" if board.kernels == "dsp" else "Helium (MVE)"
        raise EennError(f"{path}: kernels = \"{board.kernels}\" needs a core with {extension} ({', '.join(cores)}); "
                        f"the {board.cpu} takes kernels = \"{best}\"")
    if board.uart.driver not in UART_DRIVERS or (board.emulation and board.emulation.uart_driver not in UART_DRIVERS):
        raise EennError(f"{path}: UART driver must be one of {', '.join(UART_DRIVERS)}")
    if board.cost.counter not in COUNTERS:
        raise EennError(f"{path}: cost counter must be one of {', '.join(COUNTERS)}")
    needed = FLASH_TOOLS.get(board.flash.tool)
    if needed is None or not getattr(board.flash, needed):
        raise EennError(f"{path} [flash]: tool must be one of {', '.join(FLASH_TOOLS)}, each with its key "
                        f"({', '.join(f'{t}: {k}' for t, k in FLASH_TOOLS.items())})")
    return board


def all_boards() -> list:
    """Every board of boards/, each file checked (a broken one names itself)."""
    return [load(p) for p in sorted(BOARDS_DIR.glob("*.toml"))]


def _names(path: Path) -> tuple:
    """The name and aliases a board file answers to, read without checking the rest of it (a
    file that cannot even say that answers to its file name only)."""
    try:
        raw = tomllib.loads(path.read_text())
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return (path.stem,)
    aliases = raw.get("aliases", [])
    names = [raw.get("name", path.stem), *(aliases if isinstance(aliases, list) else [])]
    return tuple(n for n in names if isinstance(n, str))


def get(name: str) -> Board:
    """A board by name or alias, or a user's own board file (a path ending in .toml). Only the
    board asked for is checked: a broken file of boards/ breaks no other board."""
    if name.endswith(".toml"):
        if not Path(name).is_file():
            raise EennError(f"{name}: no such board file (a board is a name, an alias or a .toml file)")
        return load(Path(name))
    files = sorted(BOARDS_DIR.glob("*.toml"))
    for path in files:
        if name in _names(path):
            return load(path)
    known = ", ".join(names[0] + (f" ({', '.join(names[1:])})" if names[1:] else "")
                      for names in map(_names, files))
    raise EennError(f"unknown board '{name}'; known boards: {known}")
