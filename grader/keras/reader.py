"""Reading a Keras file as bytes: which layout it is (by content, never by its name), its model
config as JSON, its weights as float arrays per layer, with every size bounded before it is read.

Layouts (facts from Keras' own savers: keras/src/saving/saving_lib.py, legacy/saving/legacy_h5_format.py):
- a zip (`.keras` of Keras 3 and TF-Keras >= 2.13): `config.json`, `metadata.json`,
  `model.weights.h5` whose groups are `layers/<layer>/vars/<i>` (`layers\\<layer>` as saved on
  Windows, `_layer_checkpoint_dependencies/<layer>` by TF-Keras 2.13/2.14);
- HDF5 (`.h5`, or an HDF5 file named `.keras`): the JSON in the root attribute `model_config`,
  weights under `model_weights/<layer>` in the order of the layer's `weight_names` attribute.
A weights-only HDF5 (`save_weights`) has the weights and no config: refused, saying so.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from grader.errors import Rejected
from grader.npnet import json_depth

ZIP_MAGIC = b"PK\x03\x04"
HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
MAX_MEMBERS = 32  # a Keras zip holds 3 files (assets/ may add a few)
MAX_CONFIG_BYTES = 8 << 20  # a 500-layer functional config is a few MB at most
MAX_CONFIG_DEPTH = 40  # Keras 3 nests layer > config > dtype policy > config, inbound args deeper
MAX_OBJECTS = 20000  # groups and datasets visited in a weights file
WEIGHT_ROOTS = ("layers", "_layer_checkpoint_dependencies")
NO_ARCH = (
    "this file holds weights only: the architecture is missing. Save the whole model with "
    "model.save('model.keras') and upload that file"
)


def _bad(message: str) -> Rejected:
    return Rejected("keras_invalid", message)


@dataclass
class KerasFile:
    config: dict[str, Any]
    weights: dict[str, list[np.ndarray]]  # per group (a layer name in HDF5, a class key in zip)
    version: str  # keras_version as recorded ("" when absent)
    layout: str  # "zip" or "hdf5"
    notes: list[str] = field(default_factory=list)

    @property
    def major(self) -> int:
        head = self.version.split(".", 1)[0]
        return int(head) if head.isdigit() else 3


def sniff(data: bytes) -> str | None:
    if data.startswith(ZIP_MAGIC):
        return "zip"
    if data.startswith(HDF5_MAGIC):
        return "hdf5"
    return None


def parse_json(text: bytes | str, what: str) -> dict[str, Any]:
    if len(text) > MAX_CONFIG_BYTES:
        raise _bad(f"{what} is {len(text):,} bytes; at most {MAX_CONFIG_BYTES:,}")
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as e:
            raise _bad(f"{what} is not UTF-8 text") from e
    if json_depth(text) > MAX_CONFIG_DEPTH:
        raise _bad(f"{what} nests deeper than {MAX_CONFIG_DEPTH} levels")
    try:
        value = json.loads(text)
    except (ValueError, RecursionError) as e:
        raise _bad(f"{what} is not valid JSON: {e}") from e
    if not isinstance(value, dict):
        raise _bad(f"{what} must be a JSON object")
    return value


class _Budget:
    """Bytes of weights still allowed, and objects still allowed to visit."""

    def __init__(self, max_bytes: int) -> None:
        self.bytes = max_bytes
        self.objects = MAX_OBJECTS

    def visit(self) -> None:
        self.objects -= 1
        if self.objects < 0:
            raise _bad(f"the weights file has more than {MAX_OBJECTS:,} groups and arrays")


def _child(group: Any, key: str, budget: _Budget) -> Any:
    """group[key] through a hard link only: soft and external links (which could name a file on
    the server) are refused."""
    import h5py

    budget.visit()
    link = group.get(key, getlink=True)
    if link is None:
        return None
    if not isinstance(link, h5py.HardLink):
        raise _bad(f"the weights file links {key!r} elsewhere ({type(link).__name__}); refused")
    return group[key]


def _array(ds: Any, where: str, budget: _Budget) -> np.ndarray:
    import h5py

    if not isinstance(ds, h5py.Dataset):
        raise _bad(f"{where} is not an array")
    if ds.external or ds.is_virtual:
        raise _bad(f"{where} stores its data outside the file; refused")
    if ds.dtype.kind not in "fiu":
        raise _bad(f"{where} holds {ds.dtype}, not numbers")
    nbytes = int(np.prod(ds.shape, dtype=np.int64)) * ds.dtype.itemsize if ds.shape else 8
    budget.bytes -= nbytes
    if nbytes < 0 or budget.bytes < 0:
        raise Rejected("too_large", f"{where} declares {ds.shape}: the weights exceed the limit")
    return np.asarray(ds[()], dtype=np.float32)


def _vars(group: Any, where: str, budget: _Budget) -> list[np.ndarray]:
    vars_ = _child(group, "vars", budget)
    if vars_ is None:
        return []
    keys = sorted((k for k in vars_.keys() if k.isdigit()), key=int)
    return [_array(_child(vars_, k, budget), f"{where}/vars/{k}", budget) for k in keys]


def _zip_weights(f: Any, budget: _Budget) -> dict[str, list[np.ndarray]]:
    out: dict[str, list[np.ndarray]] = {}
    for key in list(f.keys()):
        budget.visit()
        root, sep, rest = key.replace("\\", "/").partition("/")
        if root not in WEIGHT_ROOTS:
            continue  # optimizer/, vars of the model itself
        if sep:  # `layers\conv2d`: the Windows join of the group path, one group
            out[rest] = _vars(_child(f, key, budget), key, budget)
            continue
        layers = _child(f, key, budget)
        for name in list(layers.keys()):
            out[name] = _vars(_child(layers, name, budget), f"{key}/{name}", budget)
    return out


def _attr_size(obj: Any, name: str) -> None:
    aid = obj.attrs.get_id(name)
    try:
        size = aid.get_storage_size()
    except RuntimeError:  # HDF5 fails on an empty attribute
        size = 0
    if size > MAX_CONFIG_BYTES:
        raise _bad(f"attribute {name!r} is over {MAX_CONFIG_BYTES:,} bytes")


def _h5_attr_text(obj: Any, name: str) -> str | None:
    if name not in obj.attrs:
        return None
    _attr_size(obj, name)
    value = obj.attrs[name]
    if isinstance(value, np.ndarray):
        value = value.item() if value.size == 1 else None
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value if isinstance(value, str) else None


def _h5_names(obj: Any, name: str) -> list[str]:
    if name not in obj.attrs:
        return []
    _attr_size(obj, name)
    vals = np.atleast_1d(obj.attrs[name])
    return [v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v) for v in vals]


def _legacy_weights(group: Any, budget: _Budget) -> dict[str, list[np.ndarray]]:
    out: dict[str, list[np.ndarray]] = {}
    for lname in _h5_names(group, "layer_names"):
        lg = _child(group, lname, budget)
        if lg is None:
            raise _bad(f"the weights of layer {lname!r} are missing")
        arrays = []
        for wname in _h5_names(lg, "weight_names"):
            ds = lg
            for part in wname.split("/"):
                ds = _child(ds, part, budget)
                if ds is None:
                    raise _bad(f"weight {lname}/{wname} is missing")
            arrays.append(_array(ds, f"{lname}/{wname}", budget))
        out[lname] = arrays
    return out


def _read_hdf5(data: bytes, budget: _Budget) -> KerasFile:
    import h5py

    try:
        f = h5py.File(io.BytesIO(data), "r")
    except OSError as e:
        raise _bad(f"the HDF5 file cannot be read ({e})") from e
    with f:
        text = _h5_attr_text(f, "model_config")
        if text is None:
            raise Rejected("keras_weights_only", NO_ARCH)
        config = parse_json(text, "model_config")
        version = _h5_attr_text(f, "keras_version") or ""
        group = _child(f, "model_weights", budget)
        weights = _legacy_weights(group, budget) if group is not None else {}
    return KerasFile(config, weights, version, "hdf5")


def _member(zf: zipfile.ZipFile, name: str, cap: int) -> bytes | None:
    try:
        info = zf.getinfo(name)
    except KeyError:
        return None
    if info.file_size > cap:
        raise Rejected("too_large", f"{name} is {info.file_size:,} bytes; the limit is {cap:,}")
    with zf.open(info) as fh:
        raw = fh.read(cap + 1)
    if len(raw) > cap:
        raise Rejected("too_large", f"{name} is larger than it declares")
    return raw


def _read_zip(data: bytes, budget: _Budget) -> KerasFile:
    import h5py

    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError) as e:
        raise _bad(f"the .keras file is not a readable zip archive ({e})") from e
    infos = zf.infolist()
    if len(infos) > MAX_MEMBERS:
        raise _bad(f"the archive holds {len(infos)} files; a Keras file holds a few")
    for info in infos:
        parts = info.filename.replace("\\", "/").split("/")
        if info.filename.startswith(("/", "\\")) or ".." in parts or ":" in parts[0]:
            raise _bad(f"the archive names a path outside its root: {info.filename[:100]!r}")
    config_raw = _member(zf, "config.json", MAX_CONFIG_BYTES)
    if config_raw is None:
        raise _bad("the archive has no config.json: not a Keras model saved with model.save")
    config = parse_json(config_raw, "config.json")
    meta_raw = _member(zf, "metadata.json", 1 << 16)
    meta = parse_json(meta_raw, "metadata.json") if meta_raw else {}
    raw = _member(zf, "model.weights.h5", max(budget.bytes, 0) + (1 << 20))
    weights: dict[str, list[np.ndarray]] = {}
    if raw is not None:
        try:
            f = h5py.File(io.BytesIO(raw), "r")
        except OSError as e:
            raise _bad(f"model.weights.h5 cannot be read ({e})") from e
        with f:
            weights = _zip_weights(f, budget)
    return KerasFile(config, weights, str(meta.get("keras_version", "")), "zip")


def read(data: bytes, *, max_weight_bytes: int) -> KerasFile:
    kind = sniff(data)
    budget = _Budget(max_weight_bytes)
    if kind == "zip":
        return _read_zip(data, budget)
    if kind == "hdf5":
        return _read_hdf5(data, budget)
    raise _bad("not a Keras file: neither a .keras zip nor an HDF5 (.h5) file")
