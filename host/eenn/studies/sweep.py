"""`eenn tradeoff`: accuracy against MACs of every decision mechanism on a build, over its
i.i.d. test split or over a stream (a recorded one, or scenes made from the test split and
run through the stages under TFLM): a table and a plot beside the build."""

from dataclasses import dataclass
from pathlib import Path

from ..decision import streams, tradeoff
from ..util import atomic


@dataclass(frozen=True)
class StreamSource:
    """A recorded stream (`file`), or one of `steps` scenes from the test split (`seed`, int8 `noise`)."""

    file: "Path | None" = None
    steps: int = 2000
    seed: int = 0
    noise: int = 0


def report(build, stream: "StreamSource | None" = None) -> "tuple[str, Path]":
    """The sweep of `build` (an artifact.Build), written as tradeoff_iid (or tradeoff_stream)
    .txt and .png; the table as text, and the files' stem."""
    m = build.manifest
    records, starts, kind = build.records("test"), None, "i.i.d. test split"
    if stream is not None:
        if stream.file:
            made, kind = streams.load(stream.file), f"stream {Path(stream.file).name}"
        else:
            made = streams.build(records.inputs, records.labels, stream.steps, stream.seed, noise=stream.noise)
            kind = f"stream of {stream.steps} steps (seed {stream.seed}, noise {stream.noise})"
        shape = m.stages[0].input.shape[1:]
        records = build.stage_chain().run(made.inputs.reshape(len(made), *shape), made.labels, progress=True)
        starts = made.starts
    rows = tradeoff.sweep(records, m.decision.config, m.exit_quantizations[:-1], m.cumulative_macs, m.full_model_macs,
                          starts)
    stem = build.directory / ("tradeoff_stream" if starts is not None else "tradeoff_iid")
    text = f"{m.name}: {kind}\n{tradeoff.table(rows)}"
    atomic.write_text(stem.with_suffix(".txt"), text + "\n")
    tradeoff.plot(rows, f"{m.name}: {kind}", stem.with_suffix(".png"))
    return text, stem
