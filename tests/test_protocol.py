"""The serial protocol's one description (protocol.toml): the header the firmware compiles is
rendered from it, the host's frame layouts come from it, and the two agree."""

import re
import struct
import subprocess

from eenn import protocol
from eenn.firmware import image


def _header() -> str:
    return image._environment().get_template("protocol.h.j2").render(
        protocol=protocol.PROTOCOL, offsets=protocol.offsets(), version="test")


def test_every_frame_type_is_one_character_of_its_own():
    types = [f["type"] for f in protocol.PROTOCOL["frames"].values()]
    assert all(len(t) == 1 for t in types) and len(set(types)) == len(types)


def test_the_offsets_the_firmware_writes_are_the_layouts_the_host_reads():
    for name, fields in protocol.offsets().items():
        end = dict(fields)["end"]
        assert end == 1 + struct.calcsize(protocol.layout(name)), name  # after the type byte
    header = _header()
    for name, fields in protocol.offsets().items():
        for field, at in fields:
            assert re.search(rf"\b{name.upper()}_{field.upper()} = {at},", header), (name, field)


def test_the_rendered_header_compiles_and_holds_every_code(tmp_path):
    (tmp_path / "protocol.h").write_text(_header())
    (tmp_path / "check.c").write_text('#include "protocol.h"\n_Static_assert(FRAME_RECORD == \'r\', "");\n'
                                      "_Static_assert(ROUTE_NO_RESULT == 3, \"\");\n"
                                      f"_Static_assert(NO_RESULT == {protocol.NO_RESULT}, \"\");\n")
    done = subprocess.run([image.COMPILER, "-std=c11", "-Wall", "-Werror", "-c", tmp_path / "check.c", "-o",
                           tmp_path / "check.o"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert protocol.ROUTES[3] == "no result" and protocol.COUNTER_UNITS == {"dwt": 0, "systick": 1, "nrf-timer": 2}
