"""`eenn monitor`: collect what a board's firmware sends over a serial port, for as long as it
runs.

Info frames, records and text lines go to a JSON-lines log (eenn.device.runlog) the moment they
arrive, and a tally of them is shown live. A port that goes away (the board reset or
unplugged, the emulator killed) is reopened as soon as it is back; a garbled frame is skipped
to the next frame boundary. Given the build the device runs, every record gets its label and
is compared with the host simulator. With an edge runtime (`eenn edge`), offloads from a
split device are answered too, but only once the device has said it runs the edge's model.
"""

import time
from collections import Counter
from dataclasses import dataclass, field

import serial

from ..errors import EennError
from ..protocol import INFO, OFFLOAD, RECORD, TEXT
from . import runlog
from .conformance import Expectation
from .link import FrameReader, LinkError, check_port, close_port, parse_info, parse_record

RETRY_SECONDS = 0.5
READ_TIMEOUT = 0.2
SHOW_SECONDS = 0.25


@dataclass
class Tally:
    """What has come in so far, for the live line."""

    records: int = 0
    correct: int = 0
    labelled: int = 0
    compared: int = 0
    differing: int = 0
    exits: Counter = field(default_factory=Counter)
    routes: Counter = field(default_factory=Counter)
    cost: float = 0.0
    cost_unit: str = ""
    starts: int = 0
    offloads: int = 0  # answered
    unanswered: int = 0  # offloads with no edge runtime, or from a device of another model
    disconnections: int = 0
    garbled: int = 0
    waiting: str = ""  # why the port is not open, while it is not

    def line(self) -> str:
        if self.waiting:
            return f"waiting for the port ({self.waiting})"
        acc = f"accuracy {100 * self.correct / self.labelled:.1f}%" if self.labelled else "no labels"
        hist = "/".join(str(self.exits[k]) for k in range(max(self.exits, default=-1) + 1)) or "-"
        mean = f"{self.cost / self.records:,.0f} {self.cost_unit}" if self.records else "-"
        compared = f", {self.differing} of {self.compared} differ from the host" if self.compared else ""
        if set(self.routes) - {"device"}:
            compared += ", " + ", ".join(f"{n} {route}" for route, n in sorted(self.routes.items()))
        offloads = f"{self.offloads} offloads answered, " if self.offloads or self.unanswered else ""
        offloads += f"{self.unanswered} not, " if self.unanswered else ""
        return (f"{self.records} records, {acc}, exits {hist}, mean cost {mean}{compared}; {offloads}"
                f"{self.starts} starts, {self.disconnections} disconnections, {self.garbled} garbled")


class Monitor:
    """Reads `url` into `log` and `tally`; `expectation` (optional) labels and checks records;
    `edge` (an edge.EdgeRuntime, optional) answers offloads."""

    def __init__(self, url: str, baud: int = 115200, log: "runlog.RunLog | None" = None,
                 expectation: "Expectation | None" = None, edge=None):
        self.url, self.baud, self.log, self.expectation, self.edge = url, baud, log, expectation, edge
        self.device_digest = None  # the model the device said it runs
        self.tally = Tally()
        self.reader = FrameReader()
        self.port = None

    @property
    def checking(self) -> bool:
        """The device has said it runs the expectation's model."""
        return self.expectation is not None and self.device_digest == self.expectation.model_digest

    def _write(self, kind: str, **fields) -> None:
        if self.log is not None:
            self.log.write(kind, **fields)

    def _open(self) -> bool:
        try:
            self.port = serial.serial_for_url(self.url, baudrate=self.baud, timeout=READ_TIMEOUT)
        except ValueError as e:
            raise EennError(f"cannot open {self.url}: {e}") from None
        except (serial.SerialException, OSError) as e:
            self.tally.waiting = str(e)
            return False
        self.tally.waiting = ""
        self.reader.discard()
        self._write("event", event="connected", detail=self.url)
        return True

    def _lost(self, error: Exception) -> None:
        self.tally.disconnections += 1
        self.tally.waiting = f"lost: {error}"
        self.device_digest = None
        self._write("event", event="disconnected", detail=str(error))
        self.close()

    def close(self) -> None:
        if self.port is not None:
            close_port(self.port)
            self.port = None

    def _frame(self, kind: "bytes | None", body: bytes) -> None:
        try:
            if kind == INFO:
                info = parse_info(body)
                self.device_digest = info.model_digest
                self.tally.starts += 1
                self._write("info", **runlog.info_entry(info))
            elif kind == RECORD:
                self._record(parse_record(body))
            elif kind == TEXT:
                self._write("text", text=body.decode(errors="replace"))
            elif kind == OFFLOAD:
                self._offload(body)
            else:
                raise LinkError(f"unexpected frame {kind!r}")
        except LinkError:
            self.tally.garbled += 1
            self._write("event", event="garbage", detail=(body if kind is None else kind + body)[:64].hex())

    def _offload(self, body: bytes) -> None:
        if self.edge is None or self.device_digest != self.edge.model_digest or self.port is None:
            self.tally.unanswered += 1
            return
        answer = self.edge.answer(body)
        try:
            self.port.write(answer)
        except (serial.SerialException, OSError) as e:
            self._lost(e)
            return
        self.tally.offloads += 1

    def _record(self, record) -> None:
        label, expected = self.expectation.for_sample(record.sequence) if self.checking else (None, None)
        entry = runlog.record_entry(record, label, expected)
        self._write("record", **entry)
        t = self.tally
        t.records += 1
        t.routes[record.route] += 1
        if record.exit is not None:
            t.exits[record.exit] += 1
        t.cost += sum(record.cost)
        t.cost_unit = record.cost_unit
        if label is not None:
            t.labelled += 1
            t.correct += int(record.predicted == label)
        if entry["match"] is not None:
            t.compared += 1
            t.differing += int(not entry["match"])

    def run(self, records: "int | None" = None, seconds: "float | None" = None, show=None) -> Tally:
        """Read until `records` records have come, `seconds` have passed, or Ctrl-C; `show(tally)`
        is called a few times a second."""
        check_port(self.url)  # a port that exists and goes away is waited for; one that never was is refused
        deadline = None if seconds is None else time.monotonic() + seconds
        shown = 0.0
        try:
            while (records is None or self.tally.records < records) and (
                    deadline is None or time.monotonic() < deadline):
                if show is not None and time.monotonic() - shown > SHOW_SECONDS:
                    show(self.tally)
                    shown = time.monotonic()
                if self.port is None and not self._open():
                    time.sleep(RETRY_SECONDS)
                    continue
                try:
                    data = self.port.read(max(1, self.port.in_waiting))
                except (serial.SerialException, OSError) as e:
                    self._lost(e)
                    continue
                for kind, body in self.reader.feed(data):
                    self._frame(kind, body)
        except KeyboardInterrupt:
            pass
        finally:
            self.close()
        if show is not None:
            show(self.tally)
        return self.tally
