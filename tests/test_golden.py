"""The generated C of a seeded single layer, held to a committed copy: a change to a template,
a lowering or a constant layout shows up as a diff to review. After an intended change,
`python tests/test_golden.py` writes the copy anew."""

import sys
from pathlib import Path

from eenn.codegen import emit, singleop

GOLDEN = Path(__file__).parent / "golden" / "conv2d_stage0.c"


def generated_stage(out: Path) -> str:
    layer = singleop.conv2d((6, 6), 3, 4, (3, 3), 1, "SAME", seed=7)
    emit.generate([("conv2d.tflite", layer.tflite)], out / "src", "golden")
    return (out / "src" / "eenn_stage0.c").read_text()


def test_a_seeded_layer_generates_the_committed_c(tmp_path):
    assert generated_stage(tmp_path) == GOLDEN.read_text(), f"the generated C changed: diff it with {GOLDEN}"


if __name__ == "__main__":
    import tempfile

    GOLDEN.write_text(generated_stage(Path(tempfile.mkdtemp())))
    print(f"wrote {GOLDEN}", file=sys.stderr)
