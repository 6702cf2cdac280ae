"""Dataclasses from TOML tables: every key known, every required key there, every value of
its field's type (annotations as written, e.g. "int | None")."""

from dataclasses import MISSING, fields

from ..errors import EennError


def _kinds(annotation) -> list:
    text = annotation if isinstance(annotation, str) else annotation.__name__
    return text.strip('"').replace(" ", "").split("|")


def typed(where: str, key: str, value, annotation):
    """`value` as a field annotated `annotation` takes it (a list becomes a tuple, an int a
    float), or an EennError naming `where` and `key`."""
    allowed = _kinds(annotation)
    if value is None and "None" in allowed:
        return None
    for kind in allowed:
        if kind == "bool" and isinstance(value, bool):
            return value
        if isinstance(value, bool):
            continue
        if kind == "int" and isinstance(value, int):
            return value
        if kind == "float" and isinstance(value, (int, float)):
            return float(value)
        if kind == "str" and isinstance(value, str):
            return value
        if kind == "tuple" and isinstance(value, list):
            return tuple(value)
        if type(value).__name__ == kind:  # a nested table, already made into its dataclass
            return value
    expected = " or ".join("a table" if k[0].isupper() else k for k in allowed if k != "None")
    raise EennError(f"{where}: '{key}' must be {expected}, got {value!r}")


def from_table(cls, table: dict, where: str, prefix: str = ""):
    """An instance of dataclass `cls` from `table`; errors name `where` and the key (after `prefix`)."""
    known = {f.name: f for f in fields(cls)}
    for key in table:
        if key not in known:
            raise EennError(f"{where}: unknown key '{prefix}{key}'; expected one of {', '.join(known)}")
    missing = [name for name, f in known.items() if name not in table and f.default is MISSING
               and f.default_factory is MISSING]
    if missing:
        raise EennError(f"{where}: missing '{prefix}{missing[0]}'")
    return cls(**{key: typed(where, prefix + key, value, known[key].type) for key, value in table.items()})
