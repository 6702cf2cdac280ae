"""Flash a board: check the image against the board first, then program it with the tool the
board file names (pyocd by default; openocd or nrfjprog when a board names them).

An image says what it is: the firmware exports its board name, model digest and build id as
symbols (main.c), read here from the ELF, so an image built for another board, for QEMU, or
for an older model is refused before anything touches the probe.
"""

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from elftools.common.exceptions import ELFError
from elftools.elf.elffile import ELFFile

from ..errors import EennError
from ..hardware.boards import Board

IDENTITY_SYMBOLS = ("eenn_board_name", "eenn_model_digest", "eenn_build_id")
INSTALL_HINTS = {
    "openocd": "install the Debian package openocd",
    "nrfjprog": "install Nordic's nRF Command Line Tools (https://www.nordicsemi.com)",
}


@dataclass(frozen=True)
class Identity:
    board: str  # "<board>" or, for a QEMU image, "<board>@<machine>"
    model_digest: bytes
    build_id: str


def identity(elf: Path) -> Identity:
    """The board, model digest and build id an image carries."""
    try:
        with open(elf, "rb") as f:
            image = ELFFile(f)
            symtab = image.get_section_by_name(".symtab")
            found = {s.name: s for s in symtab.iter_symbols()} if symtab else {}
            values = {}
            for name in IDENTITY_SYMBOLS:
                if name not in found:
                    raise EennError(f"{elf} is not an eenn firmware image (no symbol {name})")
                values[name] = _symbol_bytes(image, found[name])
    except (OSError, ELFError) as e:
        raise EennError(f"cannot read the image {elf}: {e}") from None
    text = {k: values[k].rstrip(b"\0").decode(errors="replace") for k in ("eenn_board_name", "eenn_build_id")}
    return Identity(text["eenn_board_name"], values["eenn_model_digest"], text["eenn_build_id"])


def _symbol_bytes(image: ELFFile, symbol) -> bytes:
    section = image.get_section(symbol["st_shndx"])
    start = symbol["st_value"] - section["sh_addr"]
    return section.data()[start:start + symbol["st_size"]]


def check_image(elf: Path, board: Board, model_digest: "bytes | None" = None) -> Identity:
    """Refuse an image that is not for `board`'s real chip, or (given `model_digest`) that runs
    another model than the build's."""
    found = identity(elf)
    built_for, _, machine = found.board.partition("@")
    if machine:
        raise EennError(f"{elf} is the QEMU image of {built_for} (for {machine}), not an image for the board: "
                        f"build it with 'make firmware BOARD={board.name}'")
    if built_for != board.name:
        raise EennError(f"{elf} is built for {built_for}, not {board.name}: flash it onto a {built_for}, "
                        f"or build for this board with 'make firmware BOARD={board.name}'")
    if model_digest is not None and found.model_digest != model_digest:
        raise EennError(f"{elf} runs another model (digest {found.model_digest.hex()[:16]}) than the build "
                        f"(digest {model_digest.hex()[:16]}): rebuild it with 'make firmware BOARD={board.name}'")
    return found


def command(board: Board, elf: Path, probe: "str | None" = None) -> list:
    """The command line of an external flashing tool (openocd, nrfjprog) for `elf`."""
    tool = board.flash.tool
    if tool == "openocd":
        scripts = [arg for script in board.flash.scripts for arg in ("-f", script)]
        serial = ["-c", f"adapter serial {probe}"] if probe else []
        return ["openocd", *serial, *scripts, "-c", f"program {elf} verify reset exit"]
    if tool == "nrfjprog":
        serial = ["--snr", probe] if probe else []
        return ["nrfjprog", "-f", board.flash.target, *serial, "--program", str(Path(elf).with_suffix(".hex")),
                "--sectorerase", "--verify", "--reset"]
    raise EennError(f"{tool} is not an external flashing tool")


def _pyocd_probe(board: Board, probe: "str | None"):
    """The one connected probe to use, checked against the board's target where the probe knows
    its board (DAPLink)."""
    from pyocd.core.helpers import ConnectHelper
    from pyocd.target import TARGET

    probes = ConnectHelper.get_all_connected_probes(blocking=False, unique_id=probe, print_wait_message=False)
    if not probes:
        which = f"debug probe {probe}" if probe else "debug probe"
        raise EennError(f"no {which} found: connect the {board.name} board's debug USB port to this computer "
                        f"({board.description}; pyocd sees {'no probe of that id' if probe else 'none'})")
    if len(probes) > 1:
        ids = ", ".join(p.unique_id for p in probes)
        raise EennError(f"{len(probes)} debug probes are connected ({ids}): choose one with PROBE=<id>")
    found = probes[0]
    info = found.associated_board_info
    if info is not None and TARGET.get(info.target) is not TARGET.get(board.flash.target):
        raise EennError(f"probe {found.unique_id} is on a {info.name} (target {info.target}), not a "
                        f"{board.name} (target {board.flash.target}): connect the right board")
    return found


def _program_with_pyocd(board: Board, elf: Path, probe: "str | None", progress: bool) -> None:
    from pyocd.core.exceptions import Error as PyocdError
    from pyocd.core.session import Session
    from pyocd.flash.file_programmer import FileProgrammer
    from tqdm import tqdm

    found = _pyocd_probe(board, probe)
    bar = tqdm(total=100, desc=f"flashing {board.name}", unit="%", disable=not progress)
    try:
        with Session(found, target_override=board.flash.target) as session:
            FileProgrammer(session, progress=lambda done: bar.update(round(100 * done) - bar.n)).program(
                str(elf), file_format="elf")
            session.target.reset()
    except PyocdError as e:
        raise EennError(f"flashing {board.name} through probe {found.unique_id} failed: {e}") from None
    finally:
        bar.close()


def _check_flashable(board: Board) -> None:
    if board.flash.tool == "none":
        raise EennError(f"{board.name} is not flashed by eenn: {board.flash.note or 'see its board file'}")


def _check_installed(board: Board) -> None:
    tool = board.flash.tool
    if tool != "pyocd" and shutil.which(tool) is None:
        raise EennError(f"{tool} not found: {board.name} is flashed with {tool}; {INSTALL_HINTS[tool]}")


def check_tool(board: Board) -> None:
    """Refuse a board that eenn cannot flash here (before an image is built for it)."""
    _check_flashable(board)
    _check_installed(board)


def flash(board: Board, elf: Path, probe: "str | None" = None, model_digest: "bytes | None" = None,
          progress: bool = True) -> Identity:
    """Check `elf` against `board` and program it with the board's tool; returns what was flashed."""
    _check_flashable(board)
    found = check_image(elf, board, model_digest)
    _check_installed(board)
    tool = board.flash.tool
    if tool == "pyocd":
        _program_with_pyocd(board, elf, probe, progress)
        return found
    done = subprocess.run(command(board, elf, probe), capture_output=True, text=True)
    if done.returncode:
        last = (done.stderr.strip() or done.stdout.strip() or "no output").splitlines()[-1]
        raise EennError(f"{tool} could not flash {board.name} (status {done.returncode}): {last}")
    return found
