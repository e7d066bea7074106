"""Class names, colours and the ignore id; built-in presets and class files (JSON or TOML)."""
from __future__ import annotations

import colorsys
import json
import os
import re
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np

from .errors import LoadError, OptionError, plain
from .reads import check_structure, read_bounded

DEFAULT_IGNORE_INDEX = 255
MAX_CLASSES = 65_536
MAX_LABEL_VALUE = 65_535         # PNG label maps hold 8- or 16-bit values
MAX_CLASS_FILE_BYTES = 16 * 2**20


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


# names a class file uses for the class that is context rather than a result (else class 0 is background)
BACKGROUND_NAMES = {"background", "bg", "_background_", "__background__", "backgroud"}
BACKGROUND_COLOR = (60, 60, 60)      # as the demo's class file: context in a neutral grey, not the first hue


def default_colors(names) -> tuple[tuple[int, int, int], ...]:
    """Colours for classes that a class file gives none: background classes grey, the others distinct hues."""
    is_background = [str(n).strip().lower() in BACKGROUND_NAMES for n in names]
    hues = iter(distinct_palette(len(names) - sum(is_background)))
    return tuple(BACKGROUND_COLOR if background else next(hues) for background in is_background)


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
        raise OptionError(f"unknown class preset {name!r} (presets: {', '.join(preset_names())})")
    return parse_class_document(json.loads(entry.read_text()), name)


def load_class_file(path: str | Path) -> ClassSpec:
    """A JSON or TOML class file; anything malformed is a LoadError naming the file and the problem."""
    path = Path(path)
    kind = "TOML" if path.suffix.lower() == ".toml" else "JSON"
    data = read_bounded(path, MAX_CLASS_FILE_BYTES, "class file")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise LoadError(path, f"class file is not UTF-8 text (byte 0x{data[exc.start]:02x} at position {exc.start}; "
                              "save it as UTF-8)") from None
    check_structure(path, text, kind)   # depth, dotted-key parts, values: measured before any parser runs
    try:
        doc = tomllib.loads(text) if kind == "TOML" else json.loads(text, parse_constant=_no_constant)
    except RecursionError:
        raise LoadError(path, f"class file is nested too deeply to be a {kind} class file") from None
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise LoadError(path, f"not valid {kind}: {plain(exc, 200)}") from None
    return parse_class_document(doc, path)


def _no_constant(name: str):
    raise ValueError(f"{name} is not a number JSON allows")


def resolve_classes(spec: str | None, num_classes: int | None = None,
                    ignore_index: int | None = None) -> ClassSpec | None:
    """A preset name, a class file path, or None (generic names once the class count is known)."""
    if spec is None:
        ignore = DEFAULT_IGNORE_INDEX if ignore_index is None else ignore_index   # 0 is an ignore id too
        return generic_classes(num_classes, ignore) if num_classes else None
    if Path(spec).suffix.lower() in (".json", ".toml"):
        classes = load_class_file(spec)
    elif os.path.lexists(spec) and spec not in preset_names():
        raise LoadError(spec, "class files must be .json or .toml (or give a preset name)")
    else:
        classes = load_preset(spec)
    return classes.with_ignore_index(ignore_index)


def parse_class_document(doc: object, source: object) -> ClassSpec:
    """Accepts {"classes": [{"name", "color"}...]} or {"names": [...], "colors": [...]}, plus ignore_index and
    label_map {raw value: class id}. Every field is checked; a bad one is a LoadError saying which and why."""
    if not isinstance(doc, dict):
        raise LoadError(source, "class file must hold a table/object")
    names, colors = _names_and_colors(doc, source)
    if not names:
        raise LoadError(source, "class file lists no classes")
    if len(names) > MAX_CLASSES:
        raise LoadError(source, f"class file lists {len(names):,} classes; at most {MAX_CLASSES:,} are supported")
    if len(colors) != len(names):
        raise LoadError(source, f"{len(names)} names but {len(colors)} colours")
    fallback = default_colors(names)
    palette = tuple(_parse_color(c, source) if c is not None else fallback[i] for i, c in enumerate(colors))
    ignore = _label_id(doc.get("ignore_index", _dataset_json_ignore(doc)), "ignore_index", source, low=-1)
    label_map = _parse_label_map(doc.get("label_map"), len(names), ignore, source)
    return ClassSpec(tuple(names), palette, ignore, label_map)


def nnunet_labels(labels: object) -> tuple[tuple[str, ...] | None, int | None]:
    """Class names by id and the ignore label of a dataset.json's "labels": nnU-Net v2 ({"liver": 1, "ignore": 3})
    or the Decathlon / v1 ({"1": "liver"}); names None when the labels are regions (lists of ids) or not numbered
    0..N-1."""
    if not isinstance(labels, dict) or not labels:
        return None, None
    if all(isinstance(v, int) and not isinstance(v, bool) for v in labels.values()):
        by_id = {v: str(k) for k, v in labels.items() if k != "ignore"}
        ignore = labels.get("ignore")
    elif all(isinstance(k, str) and k.isdigit() for k in labels):
        by_id, ignore = {int(k): str(v) for k, v in labels.items()}, None
    else:
        return None, None    # regions (lists of labels)
    if sorted(by_id) != list(range(len(by_id))):
        return None, ignore
    return tuple(by_id[i] for i in range(len(by_id))), ignore


def _names_and_colors(doc: dict, source: object) -> tuple[list[str], list]:
    if _is_dataset_json(doc):    # an nnU-Net / Decathlon dataset.json
        names, _ = nnunet_labels(doc["labels"])
        if names is None:
            raise LoadError(source, "dataset.json's labels are regions or not numbered 0..N-1; give --classes or "
                                    "--num-classes")
        return list(names), [None] * len(names)
    if "classes" in doc:
        entries = doc["classes"]
        if not isinstance(entries, list) or not all(isinstance(e, dict) and "name" in e for e in entries):
            raise LoadError(source, "'classes' must be a list of entries with a 'name'")
        return [_name(e["name"], source) for e in entries], [e.get("color") for e in entries]
    if "names" in doc:
        names, colors = doc["names"], doc.get("colors")
        if not isinstance(names, list):
            raise LoadError(source, "'names' must be a list of class names")
        if colors is not None and not isinstance(colors, list):
            raise LoadError(source, "'colors' must be a list with one colour per name")
        return [_name(n, source) for n in names], list(colors or [None] * len(names))
    raise LoadError(source, "class file needs 'classes' or 'names'")


def _is_dataset_json(doc: dict) -> bool:
    return isinstance(doc.get("labels"), dict) and "classes" not in doc and "names" not in doc


def _dataset_json_ignore(doc: dict) -> object:
    """nnU-Net's "ignore" label when the document is a dataset.json that has one, else the default ignore id."""
    if _is_dataset_json(doc):
        ignore = nnunet_labels(doc["labels"])[1]
        return DEFAULT_IGNORE_INDEX if ignore is None else ignore
    return DEFAULT_IGNORE_INDEX


def _name(value: object, source: object) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise LoadError(source, f"class name {_short(value)} is not text")
    return str(value)


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _label_id(value: object, what: str, source: object, low: int = 0) -> int:
    """A whole number that a PNG label map can hold (low..65535); strings of digits are accepted."""
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value.strip())
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= MAX_LABEL_VALUE:
        raise LoadError(source, f"{what} {_short(value)} must be a whole number from {low} to {MAX_LABEL_VALUE}")
    return value


def _parse_label_map(value: object, num_classes: int, ignore: int, source: object) -> dict[int, int] | None:
    if value is None or value == {}:
        return None
    if not isinstance(value, dict):
        raise LoadError(source, "'label_map' must map raw label values to class ids, e.g. {\"7\": 0}")
    label_map = {}
    for raw, class_id in value.items():
        key = _label_id(raw, "label_map key", source)
        target = _label_id(class_id, f"label_map value for {key}", source, low=-1)
        if not (0 <= target < num_classes or target == ignore):
            raise LoadError(source, f"label_map sends {key} to {target}, which is neither a class id "
                                    f"0..{num_classes - 1} nor the ignore id {ignore}")
        label_map[key] = target
    return label_map


def _parse_color(value: object, source: object) -> tuple[int, int, int]:
    if isinstance(value, str) and re.fullmatch(r"#[0-9a-fA-F]{6}", value):
        return tuple(int(value[i:i + 2], 16) for i in (1, 3, 5))  # type: ignore[return-value]
    if isinstance(value, (list, tuple)) and len(value) == 3 and all(
            isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 255 for v in value):
        return (int(value[0]), int(value[1]), int(value[2]))
    raise LoadError(source, f"bad colour {_short(value)}: use [r, g, b] with 0-255 or '#rrggbb'")
