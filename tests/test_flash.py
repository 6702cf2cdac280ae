"""Flashing up to the probe: the image's identity is read from the ELF and checked against the
board, a missing probe or tool is one clear line, and the pyocd and external-tool calls are
the right ones (checked without hardware)."""

from dataclasses import replace
from types import SimpleNamespace

import pytest

from eenn import cli
from eenn.errors import EennError
from eenn.firmware import flash, image
from eenn.hardware import boards


@pytest.fixture(scope="module")
def images(generated_build):
    """The default model's firmware for the nRF52840 and its QEMU twin, and the model digest."""
    board = boards.get("nrf52")
    return (image.build(generated_build, board), image.build(generated_build, board, emulated=True),
            generated_build.manifest.model_digest)


def test_the_image_says_its_board_model_and_build(images):
    real, emulated, digest = images
    found = flash.identity(real.elf)
    assert (found.board, found.model_digest, found.build_id) == ("nrf52840", digest, real.build_id)
    assert flash.identity(emulated.elf).board == "nrf52840@mps2-an386"


@pytest.mark.parametrize("target, wanted", [
    ("stm32f405", "built for nrf52840, not stm32f405"),
    ("microbit", "built for nrf52840, not microbit"),
])
def test_an_image_of_another_board_is_refused(images, target, wanted):
    with pytest.raises(EennError, match=wanted):
        flash.flash(boards.get(target), images[0].elf)


def test_a_qemu_image_and_a_stale_model_are_refused(images):
    real, emulated, digest = images
    board = boards.get("nrf52")
    with pytest.raises(EennError, match="QEMU image of nrf52840"):
        flash.check_image(emulated.elf, board)
    with pytest.raises(EennError, match="runs another model"):
        flash.check_image(real.elf, board, bytes(32))
    assert flash.check_image(real.elf, board, digest).board == "nrf52840"


def test_a_file_that_is_not_an_eenn_image_is_refused(tmp_path, images):
    junk = tmp_path / "junk.elf"
    junk.write_bytes(b"not an elf")
    with pytest.raises(EennError, match="cannot read the image"):
        flash.identity(junk)
    with pytest.raises(EennError, match="cannot read the image"):
        flash.identity(tmp_path / "missing.elf")


def test_no_probe_is_one_line_and_a_nonzero_exit(images, capsys):
    status = cli.main(["flash", "--board", "nrf52", "--image", str(images[0].elf), "--quiet"])
    err = capsys.readouterr().err
    assert status == cli.EXIT_ERROR
    assert err.count("\n") == 1 and "no debug probe found: connect the nrf52840 board's debug USB port" in err


class FakeProbe:
    def __init__(self, uid="0001", board_target=None):
        self.unique_id = uid
        self.associated_board_info = board_target and SimpleNamespace(name="some board", target=board_target)


@pytest.fixture
def pyocd_calls(monkeypatch):
    """pyocd's probe list, session and programmer replaced by recorders."""
    from pyocd.core import helpers, session
    from pyocd.flash import file_programmer

    calls = {"probes": [FakeProbe()]}

    def probes(blocking, unique_id, print_wait_message):
        calls["probe_query"] = unique_id
        return [p for p in calls["probes"] if unique_id in (None, p.unique_id)]

    class Session:
        def __init__(self, probe, **options):
            calls["session"] = (probe.unique_id, options)
            self.target = SimpleNamespace(reset=lambda: calls.setdefault("reset", True))

        def __enter__(self):
            return self

        def __exit__(self, *_):
            return False

    class FileProgrammer:
        def __init__(self, session, progress):
            self.progress = progress

        def program(self, path, file_format):
            calls["program"] = (path, file_format)
            for done in (0.25, 0.5, 1.0):
                self.progress(done)

    monkeypatch.setattr(helpers.ConnectHelper, "get_all_connected_probes", staticmethod(probes))
    monkeypatch.setattr(session, "Session", Session)
    monkeypatch.setattr(file_programmer, "FileProgrammer", FileProgrammer)
    return calls


def test_pyocd_is_called_with_the_board_target_and_the_elf(images, pyocd_calls):
    real, _, digest = images
    flash.flash(boards.get("nrf52"), real.elf, model_digest=digest, progress=False)
    assert pyocd_calls["session"] == ("0001", {"target_override": "nrf52840"})
    assert pyocd_calls["program"] == (str(real.elf), "elf")
    assert pyocd_calls["reset"]


def test_pyocd_probe_choice_and_a_probe_on_the_wrong_board(images, pyocd_calls):
    board, elf = boards.get("nrf52"), images[0].elf
    with pytest.raises(EennError, match="no debug probe 9999 found"):
        flash.flash(board, elf, probe="9999", progress=False)
    pyocd_calls["probes"] = [FakeProbe("0001"), FakeProbe("0002")]
    with pytest.raises(EennError, match=r"2 debug probes are connected \(0001, 0002\): choose one with PROBE"):
        flash.flash(board, elf, progress=False)
    flash.flash(board, elf, probe="0002", progress=False)
    assert pyocd_calls["probe_query"] == "0002" and pyocd_calls["session"][0] == "0002"
    pyocd_calls["probes"] = [FakeProbe("0003", board_target="nrf51")]
    with pytest.raises(EennError, match=r"probe 0003 is on a some board \(target nrf51\), not a nrf52840"):
        flash.flash(board, elf, progress=False)


def test_external_tools_get_the_board_files_arguments(images, monkeypatch):
    elf = images[0].elf
    stm32 = boards.get("stm32f405")
    assert flash.command(stm32, elf, "066DFF") == [
        "openocd", "-c", "adapter serial 066DFF", "-f", "interface/stlink.cfg", "-f", "target/stm32f4x.cfg",
        "-c", f"program {elf} verify reset exit"]
    nrf = boards.get("nrf52")
    nordic = replace(nrf, flash=boards.Flash(tool="nrfjprog", target="NRF52"))
    assert flash.command(nordic, elf) == ["nrfjprog", "-f", "NRF52", "--program", str(elf.with_suffix(".hex")),
                                          "--sectorerase", "--verify", "--reset"]
    monkeypatch.setattr(flash.shutil, "which", lambda tool: None)
    with pytest.raises(EennError, match="nrfjprog not found: .* install Nordic's nRF Command Line Tools"):
        flash.flash(nordic, elf)


def test_boards_without_a_flashing_tool_say_how_they_are_loaded(images):
    with pytest.raises(EennError, match="mps2-an386 is not flashed by eenn: copy firmware.bin"):
        flash.flash(boards.get("mps2-an386"), images[0].elf)


def test_a_board_file_with_an_unknown_tool_is_refused(tmp_path):
    text = (boards.BOARDS_DIR / "nrf52840.toml").read_text().replace('tool = "pyocd"', 'tool = "jlink"')
    (tmp_path / "nrf52840.toml").write_text(text)
    with pytest.raises(EennError, match=r"\[flash\]: tool must be one of pyocd, openocd, nrfjprog, none"):
        boards.load(tmp_path / "nrf52840.toml")
