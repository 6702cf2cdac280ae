"""Plain-text tables: what every report prints."""


def table(header: list, rows: list) -> str:
    """Columns of numbers align right, columns of words left."""
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows)]
    numeric = [all(str(r[i]).strip().lstrip("-")[:1].isdigit() or str(r[i]).strip() == "n/a" for r in rows)
               for i in range(len(header))]

    def line(cells):
        return "  ".join(str(c).rjust(w) if num else str(c).ljust(w) for c, w, num in zip(cells, widths, numeric))

    return "\n".join(line(c).rstrip() for c in [header, ["-" * w for w in widths], *rows])
