"""Figures: the one look of every plot eenn writes, saved as PNG whole or not at all."""

import io
from pathlib import Path

from . import atomic


def figure(width: float = 7, height: float = 4.5):
    """A new (figure, axes) drawn off-screen."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(width, height))


def save(fig, ax, path: Path, title: str, xlabel: str, ylabel: str, **legend) -> None:
    """Label, grid and legend the axes, then write the figure to `path` and close it."""
    import matplotlib.pyplot as plt

    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(**legend)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=120)
    plt.close(fig)
    atomic.write_bytes(path, buffer.getvalue())
