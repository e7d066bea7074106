"""Class names, colours and the ignore id; built-in presets and class files (JSON or TOML)."""
from __future__ import annotations

import colorsys
import json
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np

from .errors import LoadError

DEFAULT_IGNORE_INDEX = 255


@dataclass(frozen=True)
class ClassSpec:
    names: tuple[str, ...]
    colors: tuple[tuple[int, int, int], ...]
    ignore_index: int = DEFAULT_IGNORE_INDEX
    # raw label value -> class id (e.g. Cityscapes labelIds -> trainIds); unmapped values become ignore
    label_map: dict[int, int] | None = field(default=None, compare=False)

    @property
    def num_classes(self) -> int:
        return len(self.names)

    def color_array(self) -> np.ndarray:
        return np.asarray(self.colors, dtype=np.uint8).reshape(-1, 3)

    def with_ignore_index(self, ignore_index: int | None) -> "ClassSpec":
        if ignore_index is None:
            return self
        return ClassSpec(self.names, self.colors, ignore_index, self.label_map)

    def lookup_table(self) -> np.ndarray | None:
        """A 65536-entry table that maps raw label values to class ids, or None without a label map."""
        if not self.label_map:
            return None
        table = np.full(65536, self.ignore_index, dtype=np.int64)
        for raw, class_id in self.label_map.items():
            table[int(raw)] = int(class_id)
        return table


def distinct_palette(n: int) -> tuple[tuple[int, int, int], ...]:
    """n well-separated colours: golden-ratio hue steps, alternating lightness."""
    colors = []
    for i in range(n):
        hue = (i * 0.618033988749895) % 1.0
        light = 0.45 if i % 2 == 0 else 0.62
        r, g, b = colorsys.hls_to_rgb(hue, light, 0.75)
        colors.append((int(r * 255), int(g * 255), int(b * 255)))
    return tuple(colors)


def generic_classes(n: int, ignore_index: int = DEFAULT_IGNORE_INDEX) -> ClassSpec:
    return ClassSpec(tuple(f"class {i}" for i in range(n)), distinct_palette(n), ignore_index)


def preset_names() -> list[str]:
    folder = resources.files("segviewer.resources") / "presets"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".json"))


def load_preset(name: str) -> ClassSpec:
    entry = resources.files("segviewer.resources") / "presets" / f"{name}.json"
    if not entry.is_file():
        raise LoadError(None, f"unknown class preset {name!r} (presets: {', '.join(preset_names())})")
    return parse_class_document(json.loads(entry.read_text()), name)


def load_class_file(path: str | Path) -> ClassSpec:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise LoadError(path, f"cannot read class file ({exc.strerror or exc})") from None
    try:
        doc = tomllib.loads(text) if path.suffix.lower() == ".toml" else json.loads(text)
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise LoadError(path, f"not valid {'TOML' if path.suffix.lower() == '.toml' else 'JSON'}: {exc}") from None
    return parse_class_document(doc, path)


def resolve_classes(spec: str | None, num_classes: int | None = None,
                    ignore_index: int | None = None) -> ClassSpec | None:
    """A preset name, a class file path, or None (generic names once the class count is known)."""
    if spec is None:
        return generic_classes(num_classes, ignore_index or DEFAULT_IGNORE_INDEX) if num_classes else None
    classes = load_class_file(spec) if Path(spec).suffix.lower() in (".json", ".toml") else load_preset(spec)
    return classes.with_ignore_index(ignore_index)


def parse_class_document(doc: object, source: object) -> ClassSpec:
    """Accepts {"classes": [{"name", "color"}...]} or {"names": [...], "colors": [...]}, plus ignore_index."""
    if not isinstance(doc, dict):
        raise LoadError(source, "class file must hold a table/object")
    if "classes" in doc:
        entries = doc["classes"]
        if not isinstance(entries, list) or not all(isinstance(e, dict) and "name" in e for e in entries):
            raise LoadError(source, "'classes' must be a list of entries with a 'name'")
        names = [str(e["name"]) for e in entries]
        colors = [e.get("color") for e in entries]
    elif "names" in doc:
        names = [str(n) for n in doc["names"]]
        colors = list(doc.get("colors") or [None] * len(names))
    else:
        raise LoadError(source, "class file needs 'classes' or 'names'")
    if not names:
        raise LoadError(source, "class file lists no classes")
    if len(colors) != len(names):
        raise LoadError(source, f"{len(names)} names but {len(colors)} colours")
    fallback = distinct_palette(len(names))
    palette = tuple(_parse_color(c, source) if c is not None else fallback[i] for i, c in enumerate(colors))
    ignore = int(doc.get("ignore_index", DEFAULT_IGNORE_INDEX))
    label_map = {int(k): int(v) for k, v in doc["label_map"].items()} if doc.get("label_map") else None
    return ClassSpec(tuple(names), palette, ignore, label_map)


def _parse_color(value: object, source: object) -> tuple[int, int, int]:
    if isinstance(value, str) and value.startswith("#") and len(value) == 7:
        return tuple(int(value[i:i + 2], 16) for i in (1, 3, 5))  # type: ignore[return-value]
    if isinstance(value, (list, tuple)) and len(value) == 3 and all(isinstance(v, int) and 0 <= v <= 255 for v in value):
        return (int(value[0]), int(value[1]), int(value[2]))
    raise LoadError(source, f"bad colour {value!r}: use [r, g, b] with 0-255 or '#rrggbb'")
