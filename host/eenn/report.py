"""Plain-text reports of a build: what each exit costs and how accurate it is, its calibration,
what its C takes, its firmware's size and its cost on a board."""

from .decision.riskcontrol import GUARANTEED_WITH_DELTA
from .util.tables import table


def _pct(x) -> str:
    return "   n/a" if x is None else f"{100 * x:5.1f}%"


def policy_line(result: dict) -> str:
    hist = " / ".join(str(n) for n in result["exit_histogram"])
    acc = "n/a" if result["accuracy"] is None else f"{100 * result['accuracy']:.1f}%"
    return (f"EENN accuracy {acc} on {result['samples']} samples; exits taken {hist}; "
            f"mean {result['mean_macs']:,.0f} MACs per inference = {100 * result['mean_macs_relative']:.1f}% "
            "of the full model")


def build_table(manifest) -> str:
    """A build (its artifact.Manifest): per exit, the MACs to reach it and its accuracies; the decision."""
    m = manifest.metrics
    full = manifest.full_model_macs
    n = len(manifest.exits)
    float_acc = m.float_accuracy or [None] * n
    int8_acc = m.int8_accuracy or [None] * n
    rows = [
        [e.index, e.point, f"{s.cumulative_macs:,}", _pct(s.cumulative_macs / full),
         _pct(float_acc[k]), _pct(int8_acc[k]), _pct(m.int8_float_agreement[k])]
        for k, (e, s) in enumerate(zip(manifest.exits, manifest.stages))
    ]
    ds = manifest.dataset
    title = (f"{manifest.name}: {manifest.model.name} on {ds.source} "
             f"(test split: {ds.split['test']} samples; full model {full:,} MACs)")
    dec = manifest.decision
    return "\n".join([
        title,
        table(["exit", "point", "MACs to reach", "of full", "float acc", "int8 acc", "int8=float"], rows),
        decision_line(dec.spec, dec.config if dec.calibration is None else None),
        calibration_lines(dec.calibration) if dec.calibration else "calibration: none (parameters set by hand)",
        policy_line(m.policy),
    ])


def decision_line(spec, config=None) -> str:
    """The firmware's decision (a DecisionSpec): mechanism and integers (and the project's
    threshold, if set by hand: `config`, a DecisionConfig)."""
    parameters = {"patience": f"patience {spec.patience}", "temporal-patience": f"patience {spec.patience}",
                  "difference": f"tau {spec.tau} ({spec.distance})"}
    words = [parameters[spec.mechanism]] if spec.mechanism in parameters else []
    if spec.thresholds:
        shown = f"threshold {config.threshold}, " if config and config.threshold is not None else ""
        words.append(f"{shown}integer thresholds {', '.join(map(str, spec.thresholds))}")
    return f"decision: {spec.mechanism}, {'; '.join(words)}"


def calibration_lines(summary: dict) -> str:
    """A calibration: its guarantee, the setting chosen, the risks and what it saves."""
    s = summary
    if s["method"] in GUARANTEED_WITH_DELTA:
        guarantee = f"{s['risk']} risk <= {s['epsilon']:g} with probability >= {1 - s['delta']:g}"
    elif s["method"] == "crc":
        guarantee = f"expected {s['risk']} risk <= {s['epsilon']:g}"
    else:
        guarantee = "no guarantee (empirical risk)"
    clip = ", clipped at 0" if s["clip"] else ""
    bound = "none certified" if s["certified_bound"] is None else f"{100 * s['certified_bound']:.2f}%"
    test = s["test"]
    return "\n".join([
        f"calibration: {s['method']} on {s['units']} calibration {s['unit_kind']}: {guarantee}{clip} "
        f"(epsilon {s['epsilon']:g}, delta {s['delta']:g})",
        f"  {s['settings_certified']} of {s['settings']} settings of {s['mechanism']} certified; chosen, "
        + ("the cheapest: " if not s["headroom"] else f"headroom {s['headroom']:.2f} from the cheapest: ")
        + s["setting"],
        f"  risk: calibration {100 * s['calibration_risk']:.2f}%, bound {bound}, test {100 * s['test_risk']:.2f}%",
        f"  test: {policy_line(test)}",
        f"  saves {s['macs_saved']:,.0f} MACs per inference against the full model's {s['full_model_macs']:,} "
        f"({100 * s['macs_saved'] / s['full_model_macs']:.1f}%)",
    ])


def codegen_table(generated, tflm_arena: list) -> str:
    """Per stage: MACs, constant bytes, the arena it touches, and TFLM's arena for the same stage."""
    rows = [[f"stage {s.index}", f"{s.macs:,}", f"{s.weight_bytes:,}", f"{s.arena_bytes:,}",
             f"{t['total']:,}", f"{t['non_persistent']:,}"] for s, t in zip(generated.stages, tflm_arena)]
    rows.append(["all", f"{sum(s.macs for s in generated.stages):,}",
                 f"{sum(s.weight_bytes for s in generated.stages):,}", f"{generated.plan.arena_bytes:,}",
                 f"{max(t['total'] for t in tflm_arena):,}", f"{max(t['non_persistent'] for t in tflm_arena):,}"])
    plan = generated.plan
    fused = [f"stage {s.index} ops {seg.calls[0].op.index}-{seg.calls[-1].op.index} in {seg.steps} steps"
             for s in generated.stages for seg in s.segments if len(seg.calls) > 1]
    return "\n".join([
        table(["", "MACs", "weight bytes", "arena bytes", "TFLM arena", "TFLM activations"], rows),
        f"arena: {plan.arena_bytes:,} bytes for all stages together (largest live set {plan.peak_bytes:,} bytes, "
        f"at step {plan.peak_step} of the chained stages)",
        f"run row by row: {'; '.join(fused) if fused else 'none'}",
        "TFLM arena: what the TFLM interpreter allocates to run that stage alone; TFLM activations: its tensor part",
    ])


def firmware_lines(size: dict) -> str:
    """Flash and RAM against the board's budget, per section, the worst stack depth, and the
    C file each kernel took."""
    rows = [[name, f"{s['bytes']:,}", "flash" if s["flash"] else "", "RAM" if s["ram"] else ""]
            for name, s in size["sections"].items()]
    stack = size["stack"]
    return "\n".join([
        table(["section", "bytes", "in flash", "in RAM"], rows),
        f"flash {size['flash_bytes']:,} of {size['flash_budget']:,} bytes ({_pct(size['flash_bytes'] / size['flash_budget']).strip()}); "
        f"RAM {size['ram_bytes']:,} of {size['ram_budget']:,} bytes ({_pct(size['ram_bytes'] / size['ram_budget']).strip()}, "
        f"stack reserve included)",
        f"worst stack: {stack['worst']:,} bytes (deepest call chain {stack['thread']:,} + interrupt {stack['interrupt']:,})",
        f"kernels ({size['kernels']['path']} path): "
        + ", ".join(f"{function} {file}" for function, file in size["kernels"]["files"].items()),
    ])


def _run_figures(board, figures: dict) -> str:
    energy = "" if figures["energy_j"] is None else f", {1e6 * figures['energy_j']:,.1f} uJ"
    return f"{figures['cycles']:,.0f} cycles = {1e3 * figures['latency_s']:.2f} ms{energy}"


def cost_lines(board, model: dict) -> str:
    """A build's cost on a board from the cost model: per stage, and per inference."""
    rows, reached = [], 0.0
    for k, s in enumerate(model["stages"]):
        reached += s["instructions"]
        rows.append([f"stage {k}", f"{s['macs']:,}", f"{s['weight_bytes']:,}", f"{s['arena_bytes']:,}",
                     f"{s['instructions']:,.0f}", f"{s['instructions'] / max(s['macs'], 1):.1f}", f"{reached:,.0f}"])
    power = "no power figure for this board" if board.power is None else f"{board.power.active_mw:g} mW"
    histogram = " / ".join(str(n) for n in model["exit_histogram"])
    return "\n".join([
        f"cost on {board.name} ({model['cpu']} cost table; {board.clock_hz / 1e6:g} MHz, {power}):",
        table(["", "MACs", "weight bytes", "arena bytes", "instructions", "per MAC", "to reach exit"], rows),
        f"expected per inference: {_run_figures(board, model['expected'])} (exits taken on the calibration "
        f"split: {histogram})",
        f"every stage run: {_run_figures(board, model['all_stages'])}",
    ])
