"""Static checks of an uploaded ONNX file, before anything runs (no onnxruntime import here).

Refused: files that are not ONNX or are truncated; external data and sparse tensors anywhere
(path traversal: CVE-2022-25882, CVE-2024-27318; a 139-byte sparse model makes onnxruntime
allocate 512 MiB at load); operators outside the standard domains (onnx.checker accepts
`evil.domain:EvilOp`, a custom-op library would be needed to run it); initializers whose declared
size is over the limit or whose data is shorter than declared; IR or opset versions the pinned
runtime cannot load; models that take more than one input. An operator domain imported but used
by no operator is accepted, and said.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import onnx
from google.protobuf.message import DecodeError
from onnx import AttributeProto, TensorProto

from grader.errors import Rejected

# What onnxruntime 1.31 loads (tests/grader/test_runtime_versions.py checks these against it).
MAX_IR_VERSION = 13
MIN_IR_VERSION = 3
MAX_OPSET = 26
STANDARD_DOMAINS = frozenset({"", "ai.onnx", "ai.onnx.ml"})
# Domains onnxruntime has kernels of its own for (contrib ops, NCHWc, training, ATen): a local
# function there could be shadowed by one of them, so none may be defined there.
RUNTIME_DOMAIN_PREFIXES = ("ai.onnx", "com.microsoft", "com.ms.", "org.pytorch.aten")
MAX_INLINED_NODES = 200_000
MAX_TOTAL_ELEMENTS = 256 << 20  # 1 GiB of float32 weights
INPUT_DTYPES: dict[int, str] = {
    TensorProto.FLOAT: "float32",
    TensorProto.FLOAT16: "float16",
    TensorProto.DOUBLE: "float64",
    TensorProto.UINT8: "uint8",
}
_TYPED_FIELDS = (
    "float_data",
    "int32_data",
    "string_data",
    "int64_data",
    "double_data",
    "uint64_data",
)


@dataclass
class CheckedModel:
    model: onnx.ModelProto
    input_name: str
    input_dims: list[int | None]  # None: symbolic or unknown
    input_dtype: str
    outputs: list[
        tuple[str, int, list[int | None] | None]
    ]  # name, elem type (0: not a tensor), dims
    notes: list[str] = field(default_factory=list)
    modified: bool = False  # re-serialize before running (e.g. IR downgraded)


def parse_model(data: bytes) -> onnx.ModelProto:
    if not data:
        raise Rejected("empty_file", "the file is empty")
    if data[:4] == b"PK\x03\x04":
        raise Rejected(
            "not_onnx", "this is a zip archive, not an ONNX file (a NumPy network must end in .npz)"
        )
    model = onnx.ModelProto()
    try:
        model.ParseFromString(data)
    except (DecodeError, RuntimeError, ValueError) as e:
        # A ModelProto starts with field 1 (ir_version, varint): such a file that fails to parse
        # is an ONNX file cut short or damaged, anything else is not ONNX at all.
        if data[:1] == b"\x08":
            raise Rejected(
                "truncated", "the ONNX file is truncated or damaged; upload it again"
            ) from e
        raise Rejected("not_onnx", "this is not an ONNX file (it cannot be parsed)") from e
    if model.ir_version <= 0 or not model.graph.output or not model.graph.node:
        if data[:1] == b"\x08" and model.ir_version > 0:
            raise Rejected("truncated", "the ONNX file is truncated: its graph is incomplete")
        raise Rejected("not_onnx", "this is not an ONNX model (no graph found)")
    return model


def _graph_tensors(graph: onnx.GraphProto) -> Iterator[tuple[str, TensorProto]]:
    for t in graph.initializer:
        yield f"initializer {t.name!r}", t
    for node in graph.node:
        yield from _node_tensors(node)


def _node_tensors(node: onnx.NodeProto) -> Iterator[tuple[str, TensorProto]]:
    yield from _attribute_tensors(f"node {node.name or node.op_type!r}", node.attribute)


def _attribute_tensors(
    where: str, attributes: Iterable[AttributeProto]
) -> Iterator[tuple[str, TensorProto]]:
    """Every tensor in these attributes and their subgraphs (a node's, or a function's defaults)."""
    for a in attributes:
        if (
            a.type == AttributeProto.SPARSE_TENSOR
            or a.HasField("sparse_tensor")
            or a.sparse_tensors
        ):
            raise Rejected("sparse_tensor", f"{where}: sparse tensors are not allowed")
        if a.HasField("t"):
            yield f"{where} attribute {a.name!r}", a.t
        for t in a.tensors:
            yield f"{where} attribute {a.name!r}", t
        if a.HasField("g"):
            _check_sparse(a.g)
            yield from _graph_tensors(a.g)
        for g in a.graphs:
            _check_sparse(g)
            yield from _graph_tensors(g)


def _check_sparse(graph: onnx.GraphProto) -> None:
    if graph.sparse_initializer:
        raise Rejected("sparse_tensor", "sparse initializers are not allowed")


def _all_nodes(graph: onnx.GraphProto) -> Iterator[onnx.NodeProto]:
    yield from _nodes_within(graph.node)


def _nodes_within(nodes: Iterable[onnx.NodeProto]) -> Iterator[onnx.NodeProto]:
    """These nodes and every node of their subgraphs (If branches, Loop and Scan bodies)."""
    for node in nodes:
        yield node
        for a in node.attribute:
            if a.HasField("g"):
                yield from _all_nodes(a.g)
            for g in a.graphs:
                yield from _all_nodes(g)


def _every_node(model: onnx.ModelProto) -> Iterator[onnx.NodeProto]:
    """The main graph's nodes and those of every function body, subgraphs included."""
    yield from _all_nodes(model.graph)
    for fn in model.functions:
        yield from _nodes_within(fn.node)


def _check_inlined_size(model: onnx.ModelProto) -> None:
    """Functions calling functions multiply: each level calling the previous twice doubles the
    work of shape inference and of onnxruntime's inlining. Count the graph as inlined."""
    defined = {(f.domain, f.name): f for f in model.functions}
    sizes: dict[tuple[str, str], int] = {}

    def size(nodes: Iterable[onnx.NodeProto], calling: tuple[tuple[str, str], ...]) -> int:
        total = 0
        for node in _nodes_within(nodes):
            key = (node.domain, node.op_type)
            if key not in defined:
                total += 1
                continue
            if key in calling:
                raise Rejected("bad_function", f"function {key[0]}:{key[1]} calls itself")
            if key not in sizes:
                sizes[key] = size(defined[key].node, (*calling, key))
            total += sizes[key]
            if total > MAX_INLINED_NODES:
                raise Rejected(
                    "too_complex",
                    f"with its functions expanded the model has more than {MAX_INLINED_NODES:,} "
                    "operators; the grader takes at most that many",
                )
        return total

    size(model.graph.node, ())


def _check_tensor(where: str, t: TensorProto) -> int:
    if t.data_location == TensorProto.EXTERNAL or t.external_data:
        loc = next((e.value for e in t.external_data if e.key == "location"), "")
        what = "onnxruntime's in-memory marker" if "_ORT_MEM_ADDR_" in loc else repr(loc)
        raise Rejected(
            "external_data",
            f"{where} points to external data ({what}); weights must be stored inside the file",
        )
    count = 1
    for d in t.dims:
        if d < 0:
            raise Rejected("bad_initializer", f"{where}: negative dimension {d}")
        count *= d  # Python ints: cannot overflow
    if count > MAX_TOTAL_ELEMENTS:
        raise Rejected(
            "initializer_too_large",
            f"{where} declares {count:,} elements; the limit is {MAX_TOTAL_ELEMENTS:,}",
        )
    if t.data_type in (TensorProto.STRING, TensorProto.UNDEFINED):
        return count
    itemsize = onnx.helper.tensor_dtype_to_np_dtype(t.data_type).itemsize
    if t.HasField("raw_data"):
        expected = count * itemsize
        if t.data_type in (TensorProto.INT4, TensorProto.UINT4, TensorProto.FLOAT4E2M1):
            expected = (count + 1) // 2
        if len(t.raw_data) < expected:
            raise Rejected(
                "initializer_data_short",
                f"{where} declares {count:,} elements but holds {len(t.raw_data):,} bytes",
            )
    else:
        have = sum(len(getattr(t, f)) for f in _TYPED_FIELDS)
        if t.data_type in (TensorProto.COMPLEX64, TensorProto.COMPLEX128):
            have //= 2
        if have < count:
            raise Rejected(
                "initializer_data_short", f"{where} declares {count:,} elements but holds {have:,}"
            )
    return count


def _dims(vi: onnx.ValueInfoProto) -> list[int | None] | None:
    tt = vi.type.tensor_type
    if not vi.type.HasField("tensor_type") or not tt.HasField("shape"):
        return None
    return [
        d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else None for d in tt.shape.dim
    ]


def _check_weights(model: onnx.ModelProto) -> None:
    _check_sparse(model.graph)
    total = 0
    for where, t in _graph_tensors(model.graph):
        total += _check_tensor(where, t)
    for fn in model.functions:
        defaults = _attribute_tensors("default attributes", fn.attribute_proto)
        for where, t in itertools.chain(defaults, *(_node_tensors(n) for n in fn.node)):
            total += _check_tensor(f"function {fn.name!r} {where}", t)
    if total > MAX_TOTAL_ELEMENTS:
        raise Rejected(
            "initializer_too_large",
            f"the weights declare {total:,} elements in all; the limit is {MAX_TOTAL_ELEMENTS:,}",
        )


def _check_domains(model: onnx.ModelProto, notes: list[str]) -> None:
    for fn in model.functions:
        if fn.domain in STANDARD_DOMAINS or fn.domain.startswith(RUNTIME_DOMAIN_PREFIXES):
            raise Rejected(
                "custom_domain",
                f"function {fn.domain}:{fn.name} is defined in a domain ONNX Runtime implements "
                "itself; model-local functions need a domain of their own",
            )
    functions = {(f.domain, f.name) for f in model.functions}
    function_domains = {f.domain for f in model.functions}
    for node in _every_node(model):
        if node.domain in STANDARD_DOMAINS or (node.domain, node.op_type) in functions:
            continue
        raise Rejected(
            "custom_domain",
            f"operator {node.domain}:{node.op_type} is not standard ONNX; custom operators "
            "cannot be run (export with standard operators only)",
        )
    # Every node was checked above, so an import of any other domain is one nothing uses
    # (PyTorch 2 exports import `pkg.onnxscript.torch_lib.common` this way): harmless, since
    # no operator of it can run.
    imports = [*model.opset_import, *(i for f in model.functions for i in f.opset_import)]
    unused = sorted({i.domain for i in imports} - STANDARD_DOMAINS - function_domains, key=str)
    if unused:
        names = ", ".join(repr(d[:80]) for d in unused[:5])
        notes.append(
            f"operator domain{'s' if len(unused) > 1 else ''} {names} imported but used by no "
            "operator: ignored"
        )


def _check_versions(model: onnx.ModelProto, notes: list[str]) -> bool:
    """Checks the opset and IR version; True when the IR version had to be lowered."""
    opset = next((i.version for i in model.opset_import if i.domain in ("", "ai.onnx")), None)
    if opset is None:
        raise Rejected("unsupported_opset", "the model declares no ai.onnx opset version")
    if opset > MAX_OPSET:
        raise Rejected(
            "unsupported_opset",
            f"opset {opset} is newer than the grader's ONNX Runtime supports (at most {MAX_OPSET}); "
            f"export with opset_version={MAX_OPSET} or lower",
        )
    if model.ir_version < MIN_IR_VERSION:
        raise Rejected("unsupported_ir", f"IR version {model.ir_version} is too old to load")
    if model.ir_version > MAX_IR_VERSION:
        # Newer onnx packages stamp their newest IR version even when the graph uses nothing from
        # it; onnxruntime refuses such files outright. Try the newest IR it loads.
        notes.append(f"IR version {model.ir_version} lowered to {MAX_IR_VERSION} for ONNX Runtime")
        model.ir_version = MAX_IR_VERSION
        return True
    return False


def _check_input(graph: onnx.GraphProto) -> tuple[str, int, list[int | None]]:
    """The one image input: its name, element type and dims."""
    init_names = {t.name for t in graph.initializer}
    inputs = [i for i in graph.input if i.name not in init_names]
    if len(inputs) != 1:
        names = ", ".join(f"{i.name!r}" for i in inputs) or "none"
        raise Rejected(
            "too_many_inputs" if inputs else "bad_input",
            f"the model takes {len(inputs)} inputs ({names}); it must take the images only. "
            "Labels never go to a model: export the network without its loss or accuracy part",
        )
    inp = inputs[0]
    if not inp.type.HasField("tensor_type"):
        raise Rejected("bad_input", f"input {inp.name!r} is not a tensor")
    elem = inp.type.tensor_type.elem_type
    if elem not in INPUT_DTYPES:
        name = TensorProto.DataType.Name(elem) if elem in TensorProto.DataType.values() else elem
        raise Rejected(
            "bad_dtype",
            f"input {inp.name!r} is {name}; images are fed as float32 (or uint8 pixels)",
        )
    dims = _dims(inp)
    if dims is None:
        raise Rejected("bad_input", f"input {inp.name!r} declares no shape; export with a shape")
    return inp.name, elem, dims


def _outputs(graph: onnx.GraphProto) -> list[tuple[str, int, list[int | None] | None]]:
    outputs: list[tuple[str, int, list[int | None] | None]] = []
    for o in graph.output:
        if o.type.HasField("tensor_type"):
            outputs.append((o.name, o.type.tensor_type.elem_type, _dims(o)))
        else:
            outputs.append((o.name, 0, None))  # sequence or map (scikit-learn's ZipMap)
    return outputs


def check_model(model: onnx.ModelProto) -> CheckedModel:
    """Every static rule; returns what the later stages need to know about the model."""
    notes: list[str] = []
    _check_weights(model)
    _check_domains(model, notes)
    _check_inlined_size(model)
    modified = _check_versions(model, notes)
    name, elem, dims = _check_input(model.graph)
    outputs = _outputs(model.graph)
    return CheckedModel(model, name, dims, INPUT_DTYPES[elem], outputs, notes, modified)
