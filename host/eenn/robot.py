"""Robot Framework keywords for eenn: one suite runs against QEMU or against a board on a
serial port (tests/robot/, `make robot`). A suite imports it as

    Library    eenn.robot    build=generated/default

Targets: Start Emulated Board, Open Board On Port, Restart Board, Stop Board. Whatever a suite
does, its emulator ends with the suite (and with the process: eenn.device.qemu).
The UART, with Renode's keyword names: Create Terminal Tester, Wait For Line On Uart, Write Line
To Uart, Test If Uart Is Idle; eenn.device.terminal says how frames read as lines.
The model: Build Firmware Image, Use Decision, Run Test Split and the checks of its records,
Reset Stream, Send Corrupted Frames (eenn.device.fuzz), Board Should Still Answer, and the
checks of a log written by `eenn monitor` or `eenn edge`.
"""

import time
from pathlib import Path

from robot.api import logger
from robot.api.deco import keyword, library

from . import artifact
from .errors import EennError


def _fraction(text) -> float:
    """0.95, "0.95" or "95%"."""
    value = str(text).strip()
    number = float(value[:-1]) / 100 if value.endswith("%") else float(value)
    if not 0 <= number <= 1:
        raise EennError(f"an accuracy is between 0 and 1 (or 0% and 100%), not {text}")
    return number


@library(scope="SUITE", version="1", doc_format="TEXT")
class EennLibrary:
    """Keywords for eenn's firmware under QEMU or on a board (see the module's documentation)."""

    ROBOT_LISTENER_API_VERSION = 3

    def __init__(self, build: str = "generated/default"):
        self.ROBOT_LIBRARY_LISTENER = self  # end_suite: the emulator never outlives its suite
        self.build_directory = Path(build)
        self._build = None
        self.decision = None  # a DecisionSpec (Use Decision), or None: the build's own
        self.board = None
        self.emulator = None
        self.url = None  # what pyserial opens: the emulator's TCP port or the board's serial port
        self.image = None  # the image running (emulated) or last flashed
        self.probe = None
        self._link = None
        self.terminal = None
        self.result = None  # the last Run Test Split

    # the listener's half: Robot calls it when the suite that imported the library ends
    def end_suite(self, data, result) -> None:
        self.stop_board()

    @property
    def build(self):
        if self._build is None:
            self._build = artifact.Build.open(self.build_directory)
        return self._build

    @property
    def link(self):
        """The connection to the target's UART, opened the first time a keyword needs it."""
        from .device.link import Link

        if self.url is None:
            raise EennError("no board: start one first (Start Emulated Board or Open Board On Port)")
        if self._link is None:
            self._link = self.emulator.open_link() if self.emulator else Link(self.url, baud=self.board.uart.baud)
        return self._link

    def _board(self, name: str):
        from .hardware import boards

        return boards.get(name)

    # ---- targets
    @keyword
    def emulated_boards(self) -> list:
        """The names of the boards QEMU emulates (boards/ with an [emulation] entry)."""
        from .hardware import boards

        return [b.name for b in boards.all_boards() if b.emulation is not None]

    @keyword
    def build_firmware_image(self, board: str, emulated: bool = True, replay: int = 0, split: "int | None" = None,
                             edge_timeout_ms: "float | None" = None) -> str:
        """The ELF of the build's firmware for `board` (built unless up to date), with the decision
        Use Decision chose; `emulated` for QEMU, `replay` test samples replayed forever instead
        of serving a host, `split` the first stage an edge host runs."""
        from .firmware import image
        from .project import DeploymentConfig

        deployment = DeploymentConfig()
        if split is not None:
            deployment = DeploymentConfig(split, edge_timeout_ms=edge_timeout_ms or deployment.edge_timeout_ms)
        fw = image.build(self.build, self._board(board), emulated=emulated, decision=self.decision, replay=replay,
                         deployment=deployment)
        logger.info(f"{'built' if fw.rebuilt else 'up to date'}: {fw.elf} (build {fw.build_id})")
        return str(fw.elf)

    @keyword
    def start_emulated_board(self, board: str, image: "str | None" = None) -> str:
        """QEMU running `image` (by default the build's emulated firmware for `board`), its UART
        on a local TCP port; returns that port's URL, which `eenn monitor --port` also opens. As
        Renode's Start Emulation after Create Terminal Tester, the firmware starts when the UART
        is first opened, so nothing it sends is lost."""
        from .device import qemu
        from .firmware import flash

        self.stop_board()
        found = self._board(board)
        if found.emulation is None:
            raise EennError(f"board {found.name} has no emulation entry: open it on its port instead")
        elf = Path(image) if image else Path(self.build_firmware_image(board))
        identity = flash.identity(elf)
        if identity.board != f"{found.name}@{found.emulation.machine}":
            raise EennError(f"{elf} is firmware for {identity.board}, not for {found.name} under QEMU "
                            f"({found.emulation.machine}): build it with Build Firmware Image    {found.name}")
        self.board, self.image = found, elf
        self.emulator = qemu.Emulator(elf, found.emulation.machine, connect=False, wait=True)
        self.url = self.emulator.url
        logger.info(f"QEMU {found.emulation.machine} runs {elf}; its UART is {self.url}")
        return self.url

    @keyword
    def open_board_on_port(self, port: str, board: str, image: "str | None" = None,
                           probe: "str | None" = None) -> str:
        """The board on serial port `port` (a device or a pyserial URL); with `image`, flashed
        with it first (through `probe`, if several are connected)."""
        from .device.link import check_port
        from .firmware import flash

        self.stop_board()
        found = self._board(board)
        check_port(port)
        if image:
            flashed = flash.flash(found, Path(image), probe, self.build.manifest.model_digest, progress=False)
            logger.info(f"flashed {image} (build {flashed.build_id}) to {found.name}")
            self.image, self.probe = Path(image), probe
        self.board, self.url = found, port
        return port

    @keyword
    def restart_board(self) -> None:
        """The board starts again, as after a power cycle: QEMU killed and started on the same
        port; a real board flashed again with its image (which resets it)."""
        from .device import qemu
        from .firmware import flash

        self._close_link()
        if self.emulator is not None:
            port = self.emulator.port
            self.emulator.kill()
            self.emulator.close()
            self.emulator = qemu.Emulator(self.image, self.board.emulation.machine, connect=False, port=port,
                                          wait=True)
        elif self.image is not None:
            flash.flash(self.board, self.image, self.probe, self.build.manifest.model_digest, progress=False)
        else:
            raise EennError("Restart Board needs the image to flash: give it to Open Board On Port")

    @keyword
    def stop_board(self) -> None:
        """Close the UART and end the emulator, if any (safe to call twice)."""
        self._close_link()
        if self.emulator is not None:
            self.emulator.close()
            self.emulator = None
        self.url = None

    def _close_link(self) -> None:
        if self._link is not None:
            self._link.close()
            self._link = None
        self.terminal = None

    # ---- the UART, as Renode's terminal tester (argument names as Renode's, so suites port unchanged)
    @keyword
    def create_terminal_tester(self, timeout: float = 8.0) -> None:
        """Lines heard on the UART from now on can be waited for; `timeout` is the default wait
        in seconds. (Renode's first argument names the UART: eenn's firmware has one.)"""
        from .device.terminal import Terminal

        self.terminal = Terminal(self.link, timeout)

    def _terminal(self):
        if self.terminal is None:
            raise EennError("no terminal tester: Create Terminal Tester first")
        return self.terminal

    @keyword
    def wait_for_line_on_uart(self, content: str, timeout: "float | None" = None, treatAsRegex: bool = False):
        """The first line heard since the last match that holds `content` (with treatAsRegex, that
        matches it); returns it with `.line` and `.groups`."""
        found = self._terminal().wait_for(content, timeout, treatAsRegex)
        logger.info(f"matched: {found.line}")
        return found

    @keyword
    def write_line_to_uart(self, content: str = "") -> None:
        """`content` and the frame delimiter on the UART (the firmware does not echo)."""
        self._terminal().write_line(content)

    @keyword
    def test_if_uart_is_idle(self, timeout: float) -> None:
        """Fail if the device sends anything within `timeout` seconds."""
        if not self._terminal().is_idle(timeout):
            raise AssertionError(f"the UART was not idle for {timeout:g} s: it sent {self.terminal.recent[-1]!r}")

    # ---- the model
    @keyword
    def use_decision(self, mechanism: str) -> str:
        """Images and runs from now on use `mechanism`, calibrated on the build's records as
        `eenn calibrate --mechanism` would (nothing written); returns its parameters."""
        from dataclasses import replace

        from . import pipeline

        manifest = self.build.manifest
        config = replace(manifest.decision.config, mechanism=mechanism, threshold=None)
        self.decision, _ = pipeline.calibrated_decision(self.build, config, manifest.project.calibration,
                                                        log=logger.info)
        logger.info(f"decision: {self.decision}")
        return str(self.decision)

    @keyword
    def decision_mechanisms(self) -> list:
        """The names of the exit decision mechanisms."""
        from .decision.mechanisms import MECHANISMS

        return list(MECHANISMS)

    def _spec(self):
        return self.decision or self.build.manifest.decision.spec

    @keyword
    def run_test_split(self, samples: "int | None" = None) -> None:
        """The first `samples` of the test split (all by default) through the board as one stream,
        each record held against the host simulator."""
        from .device import conformance

        self.result = conformance.run(self.link, self.build, samples, decision=self.decision, board=self.board)
        logger.info(conformance.run_lines(self.board, self.result, conformance.estimate(self.board, self.result)))

    def _result(self):
        if self.result is None:
            raise EennError("no run yet: Run Test Split first")
        return self.result

    @keyword
    def records_should_match_host(self) -> None:
        """Every record of the last run equals the host simulator's: exit, class, int8 probabilities."""
        r = self._result()
        if r.differences:
            raise AssertionError(f"{r.board}: {len(r.differences)} of {r.samples} records differ from the host; "
                                 f"the first: {r.differences[0]}")
        if r.compared != r.samples:
            raise AssertionError(f"{r.board}: only {r.compared} of {r.samples} records could be compared with the "
                                 "host")

    @keyword
    def accuracy_should_be_at_least(self, minimum) -> None:
        """The last run's accuracy on its labelled samples is `minimum` or more (0.9 or 90%)."""
        r, floor = self._result(), _fraction(minimum)
        if r.accuracy is None:
            raise AssertionError("the samples of the last run have no labels")
        if r.accuracy < floor:
            raise AssertionError(f"{r.board}: accuracy {100 * r.accuracy:.2f}% on {r.labelled} samples is below "
                                 f"{100 * floor:.2f}%")

    @keyword
    def host_accuracy(self, samples: "int | None" = None) -> float:
        """The host simulator's accuracy on the first `samples` of the test split."""
        from .device.conformance import Expectation

        records = self.build.records("test")
        n = len(records.labels) if samples is None else min(int(samples), len(records.labels))
        classes = Expectation.of(self._spec(), records, self.build.manifest.model_digest).classes[:n]
        return float((classes == records.labels[:n]).mean())

    @keyword
    def mean_instructions_per_inference_should_be_below(self, limit: float) -> None:
        """The last run's mean instructions per inference (counted by QEMU) are below `limit`."""
        from .device import conformance

        r = self._result()
        instructions = conformance.estimate(self.board, r)["instructions"]
        if instructions is None:
            raise AssertionError(f"{r.board} counts {r.cost_unit}, not instructions: QEMU counts instructions")
        if instructions >= limit:
            raise AssertionError(f"{instructions:,.0f} instructions per inference on {r.board}, not below "
                                 f"{limit:,.0f}")

    @keyword
    def predicted_instructions_per_inference(self) -> float:
        """The cost model's instructions per inference (boards/cpus/) for the last run's exits."""
        from .costs import predict

        r = self._result()
        return predict.expected(r.exit_histogram, predict.stage_instructions(self.board, self.build.code()))

    @keyword
    def host_exits_taken(self, samples: "int | None" = None) -> list:
        """Per exit, how many of the first `samples` of the test split the host simulator ends there."""
        import numpy as np

        from .decision import mechanisms

        probs = self.build.records("test").probs
        taken, _ = mechanisms.simulate(self._spec(), probs[:None if samples is None else int(samples)])
        return np.bincount(taken, minlength=len(self.build.manifest.stages)).tolist()

    @keyword
    def exits_taken_should_be(self, *counts: int) -> None:
        """The last run ended this many samples at each exit, in order."""
        taken = self._result().exit_histogram
        if list(taken) != [int(c) for c in counts]:
            raise AssertionError(f"{self._result().board}: exits taken {' / '.join(map(str, taken))}, expected "
                                 f"{' / '.join(map(str, counts))}")

    @keyword
    def reset_stream(self) -> None:
        """A new stream: the device's decision forgets the samples before."""
        self.link.reset()

    @keyword
    def send_corrupted_frames(self, count: int, seed: int = 0) -> dict:
        """`count` corrupted frames (bit flips, truncations, oversize, bad CRC, garbage before a
        frame), each reply checked against the protocol and each accepted record against the
        host; fails if any is wrong. Returns the figures."""
        from .device import fuzz

        started = time.monotonic()
        found = fuzz.run(self.link, self.build, count, seed, self.decision)
        logger.info(f"{found.lines()}\n({time.monotonic() - started:.1f} s)")
        if found.wrong:
            raise AssertionError(f"{len(found.wrong)} wrong replies; the first: {found.wrong[0]}")
        return {"frames": found.frames, "chunks": found.chunks, "error_replies": sum(found.errors.values()),
                "records": found.records, "wrong": len(found.wrong)}

    @keyword
    def board_should_still_answer(self) -> None:
        """The device says which model it runs, the build's, and answers a sample as the host."""
        from .device import conformance, runlog

        info = conformance.connect(self.link, self.build)
        records = self.build.records("test")
        self.link.reset()
        got = runlog.answer(self.link.infer(0, records.inputs[0], info.classes))
        _, want = conformance.Expectation.of(self._spec(), records, info.model_digest).for_sample(0)
        if got != want:
            raise AssertionError(f"sample 0: device {got}, host {want}")

    # ---- logs of `eenn monitor` and `eenn edge`
    @keyword
    def wait_for_records_in_log(self, log: str, count: int, timeout: float = 60.0) -> None:
        """Wait until the log holds at least `count` records."""
        from .device import runlog

        deadline = time.monotonic() + timeout
        while True:
            found = sum(e["kind"] == "record" for e in runlog.read(Path(log))) if Path(log).exists() else 0
            if found >= count:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"{log} holds {found} records after {timeout:g} s, not {count}")
            time.sleep(0.2)

    @keyword
    def log_should_match_host(self, log: str) -> dict:
        """Every record of the log the host compared equals the host simulator's, and some were;
        returns the log's figures: records, compared, starts (info frames), disconnections and
        records per route."""
        from collections import Counter

        from .device import runlog

        entries = runlog.read(Path(log))
        records = [e for e in entries if e["kind"] == "record"]
        differing = [r for r in records if r["match"] is False]
        compared = sum(r["match"] is not None for r in records)
        if differing:
            r = differing[0]
            raise AssertionError(f"{len(differing)} of {compared} records compared differ from the host; the first: "
                                 f"sample {r['sequence']} exit {r['exit']} class {r['class']}, host {r['expected']}")
        if not compared:
            raise AssertionError(f"{log}: none of its {len(records)} records was compared with the host")
        figures = {"records": len(records), "compared": compared,
                   "starts": sum(e["kind"] == "info" for e in entries),
                   "disconnections": sum(e.get("event") == "disconnected" for e in entries),
                   "routes": dict(Counter(r.get("route", "device") for r in records))}
        logger.info(f"{log}: {figures}")
        return figures
