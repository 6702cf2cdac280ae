"""`eenn monitor` on a replay image under QEMU: its UART on a pseudo-terminal (a real tty
device) or a TCP socket, the emulator killed mid-stream and started again, every intact record
kept, and the log read back by `eenn report`."""

import os
import signal
import subprocess
import sys
import time

import pytest

from eenn import protocol
from eenn.device import link, qemu, runlog
from eenn.firmware import image
from eenn.hardware import boards

REPLAY = 40  # samples per pass: a pass takes a fraction of a second under QEMU
WAIT_SECONDS = 90


@pytest.fixture(scope="module")
def replay_image(generated_build):
    board = boards.get("nrf52")
    fw = image.build(generated_build, board, emulated=True, replay=REPLAY)
    return generated_build, fw, board


def _entries(log):
    return runlog.read(log) if log.exists() else []


def _wait_for(what, condition, monitor):
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        assert monitor.poll() is None, f"eenn monitor stopped early: {monitor.communicate()}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def _start(fw, board, serial, port, tmp_path):
    """QEMU running the replay image; the monitor's address for it (a stable symlink to the
    pseudo-terminal, as udev gives a board, or the TCP URL)."""
    emulator = qemu.Emulator(fw.elf, board.emulation.machine, serial=serial, connect=False, port=port)
    if serial == "pty":
        stable = tmp_path / "board-tty"
        temporary = tmp_path / "board-tty.new"
        os.symlink(emulator.url, temporary)
        os.replace(temporary, stable)
        return emulator, str(stable)
    return emulator, emulator.url


def _sessions(entries):
    """Entries split at each disconnection."""
    sessions = [[]]
    for e in entries:
        if e["kind"] == "event" and e["event"] == "disconnected":
            sessions.append([])
        else:
            sessions[-1].append(e)
    return sessions


def _passes(session):
    """The records of each replay pass that began with an info frame the monitor saw."""
    passes = None
    for e in session:
        if e["kind"] == "info":
            passes = (passes or []) + [[]]
        elif e["kind"] == "record" and passes is not None:
            passes[-1].append(e)
    return passes or []


@pytest.mark.parametrize("serial", ["pty", "tcp"])
def test_monitor_survives_an_emulator_killed_and_restarted(replay_image, tmp_path, serial):
    build, fw, board = replay_image
    directory = build.directory
    log = tmp_path / "monitor.jsonl"
    port = qemu.free_port() if serial == "tcp" else None
    first, address = _start(fw, board, serial, port, tmp_path)
    monitor = subprocess.Popen([sys.executable, "-m", "eenn.cli", "monitor", "--port", address, "--board", "nrf52",
                                "--name", directory.name, "--out", str(directory.parent), "--log", str(log)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    second = None
    try:
        infos = lambda: sum(e["kind"] == "info" for e in _entries(log))
        _wait_for("two passes", lambda: infos() >= 3, monitor)
        first.kill()  # the board loses power mid-stream
        first.close()
        _wait_for("the disconnection", lambda: any(e.get("event") == "disconnected" for e in _entries(log)), monitor)
        seen = infos()
        second, _ = _start(fw, board, serial, port, tmp_path)
        _wait_for("two passes after the restart", lambda: infos() >= seen + 3, monitor)
        monitor.send_signal(signal.SIGINT)  # Ctrl-C: the normal way to stop
        out, err = monitor.communicate(timeout=30)
    finally:
        if monitor.poll() is None:
            monitor.kill()
        first.close()
        if second is not None:
            second.close()
    assert monitor.returncode == 0, err
    assert "records" in out and f"wrote {log}" in out

    entries = runlog.read(log)
    sessions = _sessions(entries)
    assert len(sessions) == 2
    for session in sessions:
        passes = _passes(session)
        assert len(passes) >= 2
        for records in passes[:-1]:  # every whole pass: each sample once, in order, none lost
            assert [r["sequence"] for r in records] == list(range(REPLAY))
        last = [r["sequence"] for r in passes[-1]]  # cut by the kill or by Ctrl-C
        assert last == list(range(len(last)))
        checked = [r for records in passes for r in records]
        assert all(r["match"] is True and r["label"] is not None for r in checked)

    report = subprocess.run([sys.executable, "-m", "eenn.cli", "report", "--log", str(log)], capture_output=True,
                            text=True)
    assert report.returncode == 0, report.stderr
    records = sum(e["kind"] == "record" for e in entries)
    assert f"{records} samples" in report.stdout and "1 disconnection(s)" in report.stdout
    assert (tmp_path / "monitor.png").exists()


def test_a_port_that_never_was_and_a_bad_url_are_refused(tmp_path):
    from eenn.device import monitor
    from eenn.errors import EennError

    with pytest.raises(EennError, match="no-such-tty: no such serial port"):
        monitor.Monitor(str(tmp_path / "no-such-tty")).run(seconds=0.6)
    with pytest.raises(EennError, match="cannot open nosuch://x"):
        monitor.Monitor("nosuch://x").run(seconds=0.6)


def test_a_port_that_goes_away_is_waited_for():
    """A terminal whose other end closes (a board unplugged) is no error: the monitor waits."""
    import threading

    from eenn.device import monitor

    controller, device = os.openpty()
    watcher = monitor.Monitor(os.ttyname(device))
    threading.Timer(0.5, os.close, [controller]).start()
    tally = watcher.run(seconds=1.5)
    os.close(device)
    assert tally.disconnections >= 1 and tally.waiting


def test_an_endless_frame_is_dropped_in_bounded_memory():
    reader = link.FrameReader(limit=100)
    frames = []
    for _ in range(1000):  # 64 KB with no delimiter, in pieces
        frames += reader.feed(b"\x55" * 64)
        assert len(reader.pending) < 100
    assert frames == [(None, b"\x55" * 64)]  # reported once, as soon as it passed the limit
    text = link.encode(protocol.TEXT, b"after")
    assert reader.feed(b"\x55\0" + text) == [(protocol.TEXT, b"after")]


def test_frames_are_found_again_after_garbage_and_across_pieces():
    reader = link.FrameReader()
    info = link.encode(protocol.TEXT, b"hello")
    record = link.encode(protocol.TEXT, b"world")
    stream = b"\x13\x37garbage" + b"\0" + info + record
    frames = []
    for i in range(0, len(stream), 3):  # bytes arrive a few at a time
        frames += reader.feed(stream[i:i + 3])
    assert frames == [(None, b"\x13\x37garbage"), (protocol.TEXT, b"hello"), (protocol.TEXT, b"world")]
    corrupted = bytearray(link.encode(protocol.TEXT, b"bad"))
    corrupted[2] ^= 0x40
    assert reader.feed(bytes(corrupted) + info)[0][0] is None
    reader.feed(info[:4])
    reader.discard()  # the link dropped mid-frame: its start must not spoil the next one
    assert reader.feed(info) == [(protocol.TEXT, b"hello")]


def test_a_replay_of_more_samples_than_the_test_split_is_refused(replay_image):
    from eenn.errors import EennError

    build, _, board = replay_image
    with pytest.raises(EennError, match="cannot replay 100000 samples: the test split has 359"):
        image.build(build, board, emulated=True, replay=100_000)
