"""What a model file needs, read from the file without loading it.

Pickles and joblib files are walked opcode by opcode (modelyard.pickle_scan, the same walk the
server runs at registration): the GLOBAL, STACK_GLOBAL and INST opcodes name every module the file
would import. joblib's compressed dumps (zlib, gzip, bz2, xz, lzma) are decompressed as a stream, as
joblib.load does. skops files list their classes' modules in schema.json; ONNX, XGBoost, LightGBM and
MLflow files are known by their format: ONNX needs onnxruntime, XGBoost and LightGBM their own
package, MLflow its flavours' modules and what its requirements.txt (or conda.yaml) names.
Nothing is unpickled, imported or executed.
"""

import ast
import bz2
import gzip
import io
import json
import lzma
import re
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from modelyard.errors import ModelyardError
from modelyard.pickle_scan import PickleWalk, Stop, Stream, ZlibStream

_MAX_TEXT = 4 * 1024 * 1024  # schema.json, MLmodel, requirements.txt: larger members are not read
# MLflow flavour -> the module it loads with (a flavour named after its module is not listed).
_FLAVOR_MODULES = {"python_function": None, "onnx": "onnxruntime", "pytorch": "torch", "keras": "keras"}


@dataclass
class FileNeeds:
    kind: str  # pickle, joblib, skops, onnx, xgboost, lightgbm, mlflow
    modules: set[str] = field(default_factory=set)  # top-level import names
    requirements: list[str] = field(default_factory=list)  # requirement lines the file itself states
    details: dict = field(default_factory=dict)  # what the format says of itself (ONNX: producer, opsets)


def file_needs(path) -> FileNeeds:
    """The top-level modules (and stated requirements) a model file needs. Raises ModelyardError
    with a reason a person can act on when the file cannot be read."""
    path = Path(path)
    with open(path, "rb") as handle:
        head = handle.read(64)
        if not head:
            raise ModelyardError(f"model file '{path}' is empty")
        handle.seek(0)
        name = path.name.lower()
        if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
            return _zip_needs(path)
        if head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
            return _pickle_needs(handle, "joblib" if name.endswith(".joblib") else "pickle", seekable=True)
        reader = _joblib_reader(head, handle)
        if reader is not None:
            return _pickle_needs(reader, "joblib", seekable=False)
        if name.endswith(".onnx"):
            return FileNeeds("onnx", {"onnxruntime"}, details=_onnx_details(handle))
        if re.match(rb"tree\r?\nversion=", head):
            return FileNeeds("lightgbm", {"lightgbm"})
        start = handle.read(4096)
        handle.seek(0)
        if head.startswith(b"binf") or (head.lstrip()[:1] == b"{" and b"learner" in start):
            return FileNeeds("xgboost", {"xgboost"})
        if name.endswith((".pkl", ".pickle", ".sav", ".pck")):  # protocol 0/1: no PROTO header
            return _pickle_needs(handle, "pickle", seekable=True)
        if name.endswith(".py"):
            return FileNeeds("python", _source_imports(handle.read(_MAX_TEXT)))
    # Not a format read here: the server names the formats it accepts when the upload arrives.
    return FileNeeds("unknown")


def _source_imports(raw: bytes) -> set[str]:
    """Top-level modules a Python model file imports, from its syntax tree (parsed, never run)."""
    try:
        tree = ast.parse(raw.decode("utf-8"))
    except (SyntaxError, ValueError):  # the server explains what is wrong with the file
        return set()
    modules = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules.update(alias.name.split(".", 1)[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            modules.add(node.module.split(".", 1)[0])
    return modules


def _pickle_needs(raw, kind: str, seekable: bool) -> FileNeeds:
    walk = PickleWalk(Stream(raw, seekable))
    try:
        walk.run()
    except Stop as exc:
        raise ModelyardError(f"the {kind} file cannot be read ({exc}); save the model again") from exc
    except (OSError, EOFError, zlib.error, lzma.LZMAError) as exc:
        raise ModelyardError(f"the {kind} file is corrupt or truncated: {exc}") from exc
    modules = {name.split(".", 1)[0] for name in walk.found}
    if kind == "joblib":
        modules.add("joblib")  # joblib.load reads it, whatever the model is made of
    return FileNeeds(kind, modules)


def _onnx_details(handle) -> dict:
    """producer_name (field 2), producer_version (3) and opset_import (8: domain 1, version 2) of an
    ONNX ModelProto, read from its protobuf fields; the graph and weights are skipped unread."""
    details: dict = {"opsets": {}}
    try:
        for number, value in _protobuf_fields(handle):
            if number in (2, 3):
                details["producer" if number == 2 else "producer_version"] = value.decode("utf-8", "replace")
            elif number == 8:
                opset = dict(_protobuf_fields(io.BytesIO(value)))
                domain = opset.get(1, b"").decode("utf-8", "replace") or "ai.onnx"
                details["opsets"][domain] = opset.get(2)
    except (ValueError, EOFError):  # not well-formed: the server says what is wrong with it
        pass
    return details


def _protobuf_fields(handle):
    """(field number, value) pairs: an int for varints, bytes for short length-delimited fields
    (long ones, the graph and its weights, are skipped by seeking)."""
    while True:
        key = _varint(handle)
        if key is None:
            return
        number, wire = key >> 3, key & 7
        if wire == 0:
            yield number, _varint(handle)
        elif wire == 2:
            length = _varint(handle)
            if length is None:
                raise EOFError("truncated field")
            if number in (2, 3, 8, 1) and length <= 4096:
                yield number, handle.read(length)
            else:
                handle.seek(length, io.SEEK_CUR)
        elif wire in (1, 5):
            handle.seek(8 if wire == 1 else 4, io.SEEK_CUR)
        else:
            raise ValueError(f"protobuf wire type {wire}")


def _varint(handle) -> int | None:
    value = 0
    for shift in range(0, 70, 7):
        byte = handle.read(1)
        if not byte:
            if shift:
                raise EOFError("truncated varint")
            return None
        value |= (byte[0] & 0x7F) << shift
        if not byte[0] & 0x80:
            return value
    raise ValueError("varint too long")


def _joblib_reader(head: bytes, fileobj):
    """A reader of the pickle inside a compressed joblib dump, or None when it is not one."""
    if head.startswith(b"\x04\x22\x4d\x18"):
        raise ModelyardError("lz4-compressed joblib files are not supported; save with compress=3 (zlib)")
    if head[:1] == b"x" and head[1:2] in (b"\x01", b"\x5e", b"\x9c", b"\xda"):
        return ZlibStream(fileobj)
    if head.startswith(b"\x1f\x8b"):
        return gzip.GzipFile(fileobj=fileobj)
    if head.startswith(b"BZh"):
        return bz2.BZ2File(fileobj)
    if head.startswith(b"\xfd7zXZ"):
        return lzma.LZMAFile(fileobj)
    if head.startswith(b"\x5d\x00\x00"):
        return lzma.LZMAFile(fileobj, format=lzma.FORMAT_ALONE)
    return None


def _zip_needs(path: Path) -> FileNeeds:
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            mlmodel = sorted((n for n in names if n.split("/")[-1] == "MLmodel"), key=lambda n: n.count("/"))
            if mlmodel:
                return _mlflow_needs(archive, mlmodel[0][: -len("MLmodel")])
            if "schema.json" in names:
                return FileNeeds("skops", _skops_modules(_read_text(archive, "schema.json")) | {"skops"})
    except (zipfile.BadZipFile, OSError, EOFError, zlib.error, ValueError) as exc:
        raise ModelyardError(f"model file '{path}' is a corrupt zip archive: {exc}") from exc
    raise ModelyardError(f"zip file '{path}' is neither a skops file nor an MLflow model")


def _read_text(archive: zipfile.ZipFile, member: str) -> str:
    if archive.getinfo(member).file_size > _MAX_TEXT:
        return ""
    return archive.read(member).decode("utf-8", errors="replace")


def _skops_modules(schema_text: str) -> set[str]:
    """skops' schema.json names each object's class under "__module__", nested to any depth."""
    modules: set[str] = set()
    stack = [json.loads(schema_text or "{}")]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            module = node.get("__module__")
            if isinstance(module, str) and module:
                modules.add(module.split(".", 1)[0])
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return modules


def _mlflow_needs(archive: zipfile.ZipFile, root: str) -> FileNeeds:
    names = set(archive.namelist())
    modules = set()  # the package loads the flavour's own file: mlflow itself is not needed to serve
    for flavor in _flavors(_read_text(archive, root + "MLmodel")):
        module = _FLAVOR_MODULES.get(flavor, flavor)
        if module:
            modules.add(module)
    requirements: list[str] = []
    if root + "requirements.txt" in names:
        requirements = _requirement_lines(_read_text(archive, root + "requirements.txt"))
    elif root + "conda.yaml" in names:
        requirements = _conda_pip_lines(_read_text(archive, root + "conda.yaml"))
    return FileNeeds("mlflow", modules, requirements)


def _flavors(mlmodel: str) -> list[str]:
    """Names under the top-level ``flavors:`` key of an MLmodel file (YAML, read as text)."""
    found, inside, indent = [], False, None
    for line in mlmodel.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if not line[0].isspace():
            inside = line.rstrip() == "flavors:"
            continue
        width = len(line) - len(line.lstrip())
        indent = width if indent is None and inside else indent
        if inside and width == indent and line.rstrip().endswith(":"):
            found.append(line.strip()[:-1])
    return found


def _requirement_lines(text: str) -> list[str]:
    lines = (line.split("#", 1)[0].strip() for line in text.splitlines())
    return [line for line in lines if line and not line.startswith("-")]


def _conda_pip_lines(text: str) -> list[str]:
    """The entries of conda.yaml's ``- pip:`` list (MLflow writes its pip requirements there)."""
    found, inside, indent = [], False, 0
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("- pip:"):
            inside, indent = True, len(line) - len(line.lstrip())
            continue
        if inside:
            width = len(line) - len(line.lstrip())
            if not stripped.startswith("- ") or width <= indent:
                inside = False
                continue
            found.append(stripped[2:].strip().strip("'\""))
    return [line for line in found if line and not line.startswith("-")]
