"""The Robot Framework suites (tests/robot/) against the default build under QEMU, the fuzz with
fewer frames; a wrong expectation fails with Robot's message; a failed suite leaves no emulator.
And the pieces they stand on: the fuzz's model of the firmware's answers, frames read as lines."""

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from command import user_environment
from eenn import protocol
from eenn.device import fuzz, link, qemu
from eenn.device.terminal import describe
from eenn.firmware import image
from eenn.hardware import boards

SUITES = Path(__file__).parent / "robot"
FUZZ_FRAMES = 1000


def _robot(build, out: Path, *arguments) -> subprocess.CompletedProcess:
    eenn = Path(sys.executable).parent / "eenn"
    return subprocess.run([sys.executable, "-m", "robot", "--outputdir", str(out), "--consolecolors", "off",
                           "--variable", f"OUT:{build.directory.parent}", "--variable", f"NAME:{build.name}",
                           "--variable", f"EENN:{eenn}", *map(str, arguments)],
                          capture_output=True, text=True, env=user_environment(), timeout=900)


def test_every_suite_passes_and_reports(generated_build, tmp_path):
    done = _robot(generated_build, tmp_path, "--variable", f"FUZZ_FRAMES:{FUZZ_FRAMES}", SUITES)
    assert done.returncode == 0, done.stdout[-4000:]
    assert {"output.xml", "log.html", "report.html"} <= {p.name for p in tmp_path.iterdir()}
    output = (tmp_path / "output.xml").read_text()
    assert f"{FUZZ_FRAMES} corrupted frames sent" in output and ", 0 wrong" in output


def _suite(directory: Path, name: str, body: str) -> None:
    directory.mkdir(exist_ok=True)
    (directory / name).write_text(textwrap.dedent(body))


def test_a_wrong_expected_accuracy_fails_with_robots_message(generated_build, tmp_path):
    """Over the samples up to the host's first mistake, 100% is always too much to ask."""
    records = generated_build.records("test")
    from eenn.device.conformance import Expectation

    classes = Expectation.of(generated_build.manifest.decision.spec, records, b"").classes
    samples = int(np.argmax(classes != records.labels)) + 1
    assert classes[samples - 1] != records.labels[samples - 1]
    _suite(tmp_path / "suite", "accuracy.robot", f"""
        *** Settings ***
        Resource    {SUITES}/eenn.resource

        *** Test Cases ***
        Asks Too Much
            Start Emulated Board    nrf52
            Run Test Split    {samples}
            Records Should Match Host
            Accuracy Should Be At Least    100%
    """)
    done = _robot(generated_build, tmp_path / "out", tmp_path / "suite")
    assert done.returncode == 1, done.stdout
    below = f": accuracy {100 * (samples - 1) / samples:.2f}% on {samples} samples is below 100.00%"
    assert f"| FAIL |\nnrf52840@mps2-an386{below}" in done.stdout, done.stdout


def test_a_failed_suite_leaves_no_emulator(generated_build, tmp_path):
    """The first suite starts QEMU and fails without stopping it; when it ends, so does QEMU:
    the next suite finds its port closed."""
    _suite(tmp_path / "suites", "1_leaves.robot", """
        *** Settings ***
        Library    eenn.robot    build=${OUT}/${NAME}

        *** Test Cases ***
        Starts And Fails
            ${url}=    Start Emulated Board    nrf52
            Set Global Variable    ${URL}    ${url}
            Reset Stream
            Fail    on purpose
    """)
    _suite(tmp_path / "suites", "2_finds.robot", """
        *** Settings ***
        Library    eenn.robot    build=${OUT}/${NAME}

        *** Test Cases ***
        Finds The Port Closed
            Open Board On Port    ${URL}    nrf52
            Run Keyword And Expect Error    *Connection refused*    Reset Stream
    """)
    done = _robot(generated_build, tmp_path / "out", tmp_path / "suites")
    assert "Starts And Fails" in done.stdout and "on purpose" in done.stdout
    assert "Finds The Port Closed" in done.stdout and done.returncode == 1, done.stdout


def test_the_fuzz_knows_the_firmwares_receive_buffer(generated_build):
    """A chunk of exactly the buffer's size is read whole (its CRC fails); one byte more is too long."""
    board = boards.get("nrf52")
    fw = image.build(generated_build, board, emulated=True)
    with qemu.Emulator(fw.elf, board.emulation.machine) as emulator:
        info = emulator.link.connect()
        capacity = fuzz.receive_capacity(info.input_bytes)
        for size in (capacity, capacity + 1):
            chunk = b"\x01" * size  # COBS for size - 1 zero bytes
            want = fuzz.expected(chunk, info.input_bytes)
            emulator.link.send_raw(chunk + b"\0")
            kind, body = emulator.link.receive()
            assert (kind, body[0]) == (protocol.ERROR, protocol.ERROR_CODES[want[1]])
            assert want == ("error", "crc" if size == capacity else "length")


@pytest.mark.parametrize("kind", fuzz.KINDS)
def test_a_corrupted_frame_is_never_taken_for_a_request(kind):
    rng = np.random.default_rng(7)
    payload = (5).to_bytes(2, "little") + rng.integers(-128, 128, 64, dtype=np.int8).tobytes()
    frame = link.encode(protocol.SAMPLE, payload)
    capacity = fuzz.receive_capacity(64)
    for _ in range(300):
        chunks = [chunk for _, chunk in fuzz.pieces(fuzz.corrupted(kind, frame, rng, capacity))]
        answers = [fuzz.expected(chunk, 64) for chunk in chunks]
        intact = [a for a, c in zip(answers, chunks) if c == frame[:-1]]
        assert all(a == ("record", payload) for a in intact)
        assert all(a[0] == "error" for a, c in zip(answers, chunks) if c != frame[:-1])
        assert kind in ("garbage", "truncation") or not intact


def test_pieces_end_at_each_chunk_and_carry_empty_ones():
    assert fuzz.pieces(b"\0\0ab\0\0c\0") == [(b"\0\0ab\0", b"ab"), (b"\0c\0", b"c")]
    assert fuzz.pieces(b"ab") == []


def test_frames_read_as_lines():
    assert describe(protocol.ERROR, bytes([protocol.ERROR_CODES["crc"]])) == "error crc"
    assert describe(protocol.ACK, b"") == "ack"
    assert describe(protocol.TEXT, "replay pass 1: 3 test samples".encode()) == "replay pass 1: 3 test samples"
    assert describe(b"?", b"xy") == "frame b'?' of 2 bytes"
    assert describe(protocol.INFO, b"\x01").startswith("info (unreadable: ")
