"""Recognise a model artifact's framework and format from its bytes, without loading it.

Nothing here unpickles, imports or executes anything from the artifact: pickles are walked opcode by
opcode (with ``pickletools``' opcode table and a small model of the pickle machine's stack, which only
ever holds plain values) to read the names of the globals they would import, zips are read through
their central directory, and other formats by their first bytes.
No Django imports: this runs anywhere.
"""

import ast
import bz2
import gzip
import io
import lzma
import re
import zipfile
import zlib
from dataclasses import dataclass, field
from typing import BinaryIO

from modelyard.pickle_scan import Corrupt, PickleWalk, Stream, Truncated, ZlibStream

# Frameworks, by the top-level module a pickle imports its classes from.
_MODULE_FRAMEWORKS = {
    "sklearn": "sklearn",
    "xgboost": "xgboost",
    "lightgbm": "lightgbm",
    "catboost": "catboost",
    "statsmodels": "statsmodels",
    "mlflow": "mlflow",
}
_MAX_IMPORTS = 500  # distinct globals kept in details["imports"]; more sets "imports_truncated"
_MAX_SOURCE = 2 * 1024 * 1024
_MAX_MLMODEL = 1024 * 1024
_PICKLE_NAMES = (".pkl", ".pickle", ".joblib", ".sav", ".pck")

SAFE_FORMATS = {"skops", "onnx", "xgboost_json", "xgboost_ubj", "lightgbm_text"}
SUPPORTED = (
    "scikit-learn pickle (.pkl/.pickle), joblib (.joblib), skops (.skops), ONNX (.onnx), "
    "XGBoost JSON/UBJSON/binary (.json/.ubj/.bin), LightGBM text (.txt), "
    "MLflow model directory as a zip (.zip with an MLmodel file), Python source (.py)"
)


class ArtifactError(ValueError):
    """The artifact is empty, corrupt or of a format we do not recognise."""


@dataclass(frozen=True)
class Detection:
    framework: str
    format: str
    details: dict = field(default_factory=dict)

    @property
    def safe(self) -> bool:
        """Loading it cannot run arbitrary code (Python source and pickles can)."""
        return self.format in SAFE_FORMATS


def detect(fileobj: BinaryIO, filename: str) -> Detection:
    """Framework and format of an artifact. Raises ArtifactError with a reason a person can act on.
    The file is left at position 0."""
    fileobj.seek(0)
    try:
        return _detect(fileobj, filename)
    finally:
        fileobj.seek(0)


def _detect(fileobj: BinaryIO, filename: str) -> Detection:
    head = fileobj.read(64)
    fileobj.seek(0)
    if not head:
        raise ArtifactError("the file is empty")
    name = filename.lower()

    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return _detect_zip(fileobj, name)
    if head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        fmt = "joblib" if name.endswith(".joblib") else "pickle"
        return _from_pickle_stream(fileobj, fmt, compression=None, seekable=True)
    compressed = _decompress_joblib(head, fileobj)
    if compressed is not None:
        return compressed
    if name.endswith(".onnx"):
        return _detect_onnx(fileobj, head)
    if re.match(rb"tree\r?\nversion=", head):
        return Detection("lightgbm", "lightgbm_text")
    if head.lstrip().startswith(b"{"):
        start = fileobj.read(4096)
        fileobj.seek(0)
        marker = head.lstrip()[1:2]
        if b'"learner"' in start:
            return Detection("xgboost", "xgboost_json")
        if b"learner" in start and (name.endswith(".ubj") or marker in (b"L", b"l", b"i", b"U", b"#", b"$")):
            return Detection("xgboost", "xgboost_ubj")
    if head.startswith(b"binf"):
        return Detection("xgboost", "xgboost_binary")
    if name.endswith(".py"):
        return _detect_python_source(fileobj)
    if name.endswith(_PICKLE_NAMES):
        # Protocol 0 and 1 pickles have no PROTO header; accept them only when they walk cleanly.
        try:
            return _from_pickle_stream(fileobj, "joblib" if name.endswith(".joblib") else "pickle", None)
        except ArtifactError:
            pass
    raise ArtifactError(f"unrecognised model format for '{filename}'; supported: {SUPPORTED}")


# --- zip: skops and MLflow ---------------------------------------------------------------------


def _detect_zip(fileobj: BinaryIO, name: str) -> Detection:
    try:
        with zipfile.ZipFile(fileobj) as archive:
            names = archive.namelist()
            mlmodel = sorted(
                (n for n in names if n == "MLmodel" or n.endswith("/MLmodel")),
                key=lambda n: (n.count("/"), n),
            )
            flavors = _mlflow_flavors(archive, mlmodel[0]) if mlmodel else []
    except (
        ValueError,
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        NotImplementedError,
        RuntimeError,
        OSError,
        EOFError,
        zlib.error,
        lzma.LZMAError,
    ) as exc:
        raise ArtifactError(f"corrupt zip archive ({exc}); create the archive again and re-upload") from exc
    if "schema.json" in names and (name.endswith(".skops") or any(n.endswith(".npy") for n in names)):
        return Detection("sklearn", "skops", {"members": len(names)})
    if mlmodel:
        root = mlmodel[0][: -len("MLmodel")]
        return Detection("mlflow", "mlflow_zip", {"root": root, "members": len(names), "flavors": flavors})
    if "schema.json" in names:
        return Detection("sklearn", "skops", {"members": len(names)})
    raise ArtifactError(
        "zip archive is neither an MLflow model directory (no MLmodel file) nor a skops file (no schema.json)"
    )


def _mlflow_flavors(archive: zipfile.ZipFile, member: str) -> list[str]:
    """The flavour names under ``flavors:`` in an MLmodel YAML file, read as text (no YAML library)."""
    if archive.getinfo(member).file_size > _MAX_MLMODEL:
        return []
    text = archive.read(member).decode("utf-8", errors="replace")
    flavors: list[str] = []
    inside = False
    indent = None
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if not line[0].isspace():
            inside = line.rstrip() == "flavors:"
            continue
        if inside:
            width = len(line) - len(line.lstrip())
            indent = width if indent is None else indent
            if width == indent and line.rstrip().endswith(":"):
                flavors.append(line.strip()[:-1])
    return flavors


# --- ONNX --------------------------------------------------------------------------------------


def _detect_onnx(fileobj: BinaryIO, head: bytes) -> Detection:
    """An ONNX ModelProto: protobuf fields, starting with ir_version (field 1, a varint: tag 0x08) and
    holding a graph (field 7). Only the top-level field headers are read; payloads are skipped."""
    prefix = "has an .onnx name but is not an ONNX model"
    if head[:1] != b"\x08":
        raise ArtifactError(f"{prefix} (bad header: an ONNX file starts with its IR version)")
    fileobj.seek(0, io.SEEK_END)
    size = fileobj.tell()
    fileobj.seek(0)
    fields = set()
    while fileobj.tell() < size:
        key = _read_varint(fileobj)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise ArtifactError(f"{prefix} (invalid protobuf field at byte {fileobj.tell()})")
        if wire == 0:
            _read_varint(fileobj)
        elif wire in (1, 2, 5):
            length = {1: 8, 5: 4}.get(wire) or _read_varint(fileobj)
            if fileobj.tell() + length > size:
                raise ArtifactError(
                    f"{prefix}: it is truncated (field {number} runs past the end of the file)"
                )
            fileobj.seek(length, io.SEEK_CUR)
        else:
            raise ArtifactError(f"{prefix} (invalid protobuf wire type {wire} at byte {fileobj.tell()})")
        fields.add(number)
    if 7 not in fields:
        raise ArtifactError(f"{prefix} (it has no graph)")
    return Detection("onnx", "onnx")


def _read_varint(fileobj: BinaryIO) -> int:
    value = 0
    for shift in range(0, 70, 7):
        byte = fileobj.read(1)
        if not byte:
            raise ArtifactError("has an .onnx name but is not an ONNX model: it is truncated")
        value |= (byte[0] & 0x7F) << shift
        if not byte[0] & 0x80:
            return value
    raise ArtifactError("has an .onnx name but is not an ONNX model (invalid protobuf varint)")


# --- joblib compression ------------------------------------------------------------------------


def _decompress_joblib(head: bytes, fileobj: BinaryIO) -> Detection | None:
    """joblib's compressed dumps: zlib, gzip, bz2, xz or lzma around a pickle."""
    openers = [
        (b"\x1f\x8b", "gzip", lambda f: gzip.GzipFile(fileobj=f)),
        (b"BZh", "bz2", lambda f: bz2.BZ2File(f)),
        (b"\xfd7zXZ", "xz", lambda f: lzma.LZMAFile(f)),  # noqa: SIM115 - read through, then dropped
        (b"\x5d\x00\x00", "lzma", lambda f: lzma.LZMAFile(f, format=lzma.FORMAT_ALONE)),  # noqa: SIM115
    ]
    if head[:1] == b"x" and head[1:2] in (b"\x01", b"\x5e", b"\x9c", b"\xda"):
        openers.append((head[:2], "zlib", ZlibStream))
    if head.startswith(b"\x04\x22\x4d\x18"):
        raise ArtifactError(
            "lz4-compressed joblib files are not supported; save with compress=3 (zlib) instead"
        )
    for magic, kind, opener in openers:
        if head.startswith(magic):
            return _from_pickle_stream(opener(fileobj), "joblib", compression=kind)
    return None


# --- pickles -----------------------------------------------------------------------------------


def _from_pickle_stream(raw, fmt: str, compression: str | None, seekable: bool = False) -> Detection:
    stream = Stream(raw, seekable)
    what = f"{compression}-compressed file" if compression else "pickle"
    try:
        first = stream.peek_byte()
        if compression and first != b"\x80":
            raise ArtifactError(f"the {what} does not hold a pickle (joblib); supported: {SUPPORTED}")
        walk = PickleWalk(stream)
        complete = walk.run()
    except Truncated as exc:
        raise ArtifactError(
            f"the {what} is truncated: {exc}; upload the complete file "
            "(a model cannot be loaded from part of one)"
        ) from exc
    except Corrupt as exc:
        raise ArtifactError(f"the {what} is corrupt ({exc}); save the model again and re-upload") from exc
    except (OSError, EOFError, lzma.LZMAError, zlib.error) as exc:
        raise ArtifactError(
            f"corrupt or truncated {what}: {exc}; save the model again and re-upload"
        ) from exc
    names = list(dict.fromkeys(walk.found))
    if not names:
        raise ArtifactError(
            f"the {what} holds only plain Python values (no class or function), so it is not a model"
        )
    roots = [n.split(".", 1)[0] for n in names]
    if "joblib" in roots:
        fmt = "joblib"
    framework = next((_MODULE_FRAMEWORKS[r] for r in roots if r in _MODULE_FRAMEWORKS), "python")
    details = {"imports": names[:_MAX_IMPORTS], "modules": sorted(set(roots))}
    if len(names) > _MAX_IMPORTS:
        details["imports_truncated"] = True
    if not complete:
        details["scan_complete"] = False
    if compression:
        details["compression"] = compression
    return Detection(framework, fmt, details)


# --- Python source -----------------------------------------------------------------------------


def _detect_python_source(fileobj: BinaryIO) -> Detection:
    raw = fileobj.read(_MAX_SOURCE + 1)
    if len(raw) > _MAX_SOURCE:
        raise ArtifactError(
            f"a Python model file over {_MAX_SOURCE // (1024 * 1024)} MB is not supported; "
            "keep the code in the .py file and the weights in a separate artifact"
        )
    try:
        source = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ArtifactError(
            f"a .py file must be UTF-8 text (byte {exc.start} is not); save it as UTF-8"
        ) from exc
    try:
        tree = ast.parse(source)  # parses only; nothing is compiled to run or executed
    except (SyntaxError, ValueError) as exc:
        where = f" (line {exc.lineno})" if getattr(exc, "lineno", None) else ""
        raise ArtifactError(f"the .py file is not valid Python: {getattr(exc, 'msg', exc)}{where}") from exc
    classes = [
        node.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ClassDef)
        and any(
            isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef) and item.name == "predict"
            for item in node.body
        )
    ]
    if not classes:
        raise ArtifactError("a Python model file must define a class with a predict(DataFrame) method")
    return Detection("python", "python_source", {"classes": classes})
