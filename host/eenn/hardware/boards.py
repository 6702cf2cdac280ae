"""Boards are data: one TOML file per board in boards/ (see boards/README.md).

`get(name)` finds a board by name or alias and checks its fields; nothing here knows a
particular board.
"""

import tomllib
from dataclasses import MISSING, dataclass, fields, replace
from pathlib import Path

from .. import resources
from ..errors import EennError

BOARDS_DIR = resources.boards_dir()
UART_DRIVERS = ("cmsdk-uart", "nrf-uart", "stm32-usart")
COUNTERS = ("dwt", "systick", "nrf-timer")
TIMER_HZ = {"nrf-timer": 16_000_000}  # counters that tick at their own rate, not the core clock's
DSP_CORES = ("cortex-m4", "cortex-m7", "cortex-m33", "cortex-m55")  # cores with the DSP extension (SMLAD, SXTB16)
KERNEL_PATHS = ("portable", "dsp")  # eenn.codegen.kernels
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


def _section(cls, table: dict, where: str):
    """Build dataclass `cls` from a TOML table: required fields present, no unknown keys."""
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(table) - known)
    if unknown:
        raise EennError(f"{where}: unknown key '{unknown[0]}' (known: {', '.join(sorted(known))})")
    missing = [f.name for f in fields(cls) if f.name not in table and f.default is MISSING]
    if missing:
        raise EennError(f"{where}: missing '{missing[0]}'")
    return cls(**table)


def load(path: Path) -> Board:
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise EennError(f"{path}: {e}") from None
    nested = {"memory": Memory, "uart": Uart, "cost": Cost, "flash": Flash, "power": Power, "emulation": Emulation}
    for key, cls in nested.items():
        if key in raw:
            raw[key] = _section(cls, raw[key], f"{path} [{key}]")
    raw["aliases"] = tuple(raw.get("aliases", ()))
    raw["cflags"] = tuple(raw.get("cflags", ()))
    if "flash" in raw:
        raw["flash"] = replace(raw["flash"], scripts=tuple(raw["flash"].scripts))
    board = _section(Board, raw, str(path))
    board = replace(board, kernels=board.kernels or ("dsp" if board.cpu in DSP_CORES else "portable"))
    if board.kernels not in KERNEL_PATHS:
        raise EennError(f"{path}: kernels must be one of {', '.join(KERNEL_PATHS)}, not '{board.kernels}'")
    if board.kernels == "dsp" and board.cpu not in DSP_CORES:
        raise EennError(f"{path}: kernels = \"dsp\" needs a core with the DSP extension ({', '.join(DSP_CORES)}); "
                        f"the {board.cpu} takes kernels = \"portable\"")
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
    return [load(p) for p in sorted(BOARDS_DIR.glob("*.toml"))]


def get(name: str) -> Board:
    """A board by name or alias, or a user's own board file (a path ending in .toml)."""
    if name.endswith(".toml"):
        if not Path(name).is_file():
            raise EennError(f"{name}: no such board file (a board is a name, an alias or a .toml file)")
        return load(Path(name))
    for board in all_boards():
        if name == board.name or name in board.aliases:
            return board
    known = ", ".join(f"{b.name}" + (f" ({', '.join(b.aliases)})" if b.aliases else "") for b in all_boards())
    raise EennError(f"unknown board '{name}'; known boards: {known}")
