"""One decision spec per mechanism for the default digits EENN (3 stages), shared by the
tests that run them under QEMU."""

from eenn.decision.mechanisms import DecisionSpec

SPECS = {
    "confidence": DecisionSpec("confidence", (103, 103)),
    "margin": DecisionSpec("margin", (128, 96)),
    "entropy": DecisionSpec("entropy", (20000, 20000)),
    "patience": DecisionSpec("patience", (), patience=2),
    "difference": DecisionSpec("difference", (103, 103), tau=64, distance="l2", deep="cascade"),
    "temporal-patience": DecisionSpec("temporal-patience", (), patience=1, max_run=4, deep="full"),
}
