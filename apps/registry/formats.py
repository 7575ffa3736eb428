"""Recognise a model artifact's framework and format from its bytes, without loading it.

Nothing here unpickles, imports or executes anything from the artifact: pickles are walked with
``pickletools.genops`` (which only decodes opcodes) to read the names of the classes they would
import, zips are read through their central directory, and other formats by their first bytes.
No Django imports: this runs anywhere.
"""

import bz2
import gzip
import io
import lzma
import pickletools
import zipfile
import zlib
from dataclasses import dataclass, field
from typing import BinaryIO

# Frameworks, by the top-level module a pickle imports its classes from.
_MODULE_FRAMEWORKS = {
    "sklearn": "sklearn",
    "xgboost": "xgboost",
    "lightgbm": "lightgbm",
    "catboost": "catboost",
    "statsmodels": "statsmodels",
    "mlflow": "mlflow",
}
# How much of a pickle to walk looking for class names; the names come first in practice.
_PICKLE_SCAN_BYTES = 16 * 1024 * 1024

SAFE_FORMATS = {"skops", "onnx", "xgboost_json", "xgboost_ubj", "lightgbm_text", "python_source"}
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
        return self.format in SAFE_FORMATS


def detect(fileobj: BinaryIO, filename: str) -> Detection:
    """Framework and format of an artifact. Raises ArtifactError with a reason a person can act on."""
    fileobj.seek(0)
    head = fileobj.read(64)
    fileobj.seek(0)
    if not head:
        raise ArtifactError("the file is empty")
    name = filename.lower()

    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return _detect_zip(fileobj, name)
    if head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        fmt = "joblib" if name.endswith(".joblib") else "pickle"
        return _from_pickle_stream(fileobj.read(_PICKLE_SCAN_BYTES), fmt, compression=None)
    compressed = _decompress_joblib(head, fileobj)
    if compressed is not None:
        return compressed
    if name.endswith(".onnx"):
        # An ONNX ModelProto starts with field 1 (ir_version, varint): tag byte 0x08.
        if head[:1] != b"\x08":
            raise ArtifactError("has an .onnx name but is not an ONNX protobuf (bad header)")
        return Detection("onnx", "onnx")
    if name.endswith(".txt") and head.startswith(b"tree\n"):
        return Detection("lightgbm", "lightgbm_text")
    if head.lstrip().startswith(b"{"):
        text = head.lstrip()
        if b'"learner"' in fileobj.read(4096):
            fileobj.seek(0)
            return Detection("xgboost", "xgboost_json")
        fileobj.seek(0)
        if name.endswith(".ubj") or text[1:2] in (b"L", b"i", b"U", b"#", b"$"):
            return Detection("xgboost", "xgboost_ubj")
    if head.startswith(b"binf"):
        return Detection("xgboost", "xgboost_binary")
    if name.endswith(".py"):
        return _detect_python_source(fileobj)
    raise ArtifactError(f"unrecognised model format for '{filename}'; supported: {SUPPORTED}")


def _detect_zip(fileobj: BinaryIO, name: str) -> Detection:
    try:
        with zipfile.ZipFile(fileobj) as archive:
            names = archive.namelist()
    except zipfile.BadZipFile as exc:
        raise ArtifactError(f"corrupt zip archive: {exc}") from exc
    finally:
        fileobj.seek(0)
    if "schema.json" in names and (name.endswith(".skops") or any(n.endswith(".npy") for n in names)):
        return Detection("sklearn", "skops", {"members": len(names)})
    mlmodel = [n for n in names if n == "MLmodel" or n.endswith("/MLmodel")]
    if mlmodel:
        root = mlmodel[0][: -len("MLmodel")]
        return Detection("mlflow", "mlflow_zip", {"root": root, "members": len(names)})
    if "schema.json" in names:
        return Detection("sklearn", "skops", {"members": len(names)})
    raise ArtifactError("zip archive is neither an MLflow model directory (no MLmodel file) nor a skops file")


def _decompress_joblib(head: bytes, fileobj: BinaryIO) -> Detection | None:
    """joblib's compressed dumps: zlib, gzip, bz2 or xz around a pickle."""
    openers = [
        (b"\x1f\x8b", "gzip", lambda f: gzip.GzipFile(fileobj=f)),
        (b"BZh", "bz2", lambda f: bz2.BZ2File(f)),
        (b"\xfd7zXZ", "xz", lambda f: lzma.LZMAFile(f)),  # noqa: SIM115 - read once below
    ]
    for magic, kind, opener in openers:
        if head.startswith(magic):
            try:
                data = opener(fileobj).read(_PICKLE_SCAN_BYTES)
            except (OSError, EOFError, lzma.LZMAError) as exc:
                raise ArtifactError(f"corrupt {kind}-compressed file: {exc}") from exc
            finally:
                fileobj.seek(0)
            return _from_pickle_stream(data, "joblib", compression=kind)
    if head[:1] == b"x" and head[1:2] in (b"\x01", b"\x5e", b"\x9c", b"\xda"):
        try:
            data = zlib.decompressobj().decompress(fileobj.read(), _PICKLE_SCAN_BYTES)
        except zlib.error as exc:
            raise ArtifactError(f"corrupt zlib-compressed file: {exc}") from exc
        finally:
            fileobj.seek(0)
        return _from_pickle_stream(data, "joblib", compression="zlib")
    return None


def pickle_globals(data: bytes) -> list[str]:
    """The ``module.name`` globals a pickle would import, read from its opcodes only."""
    found: list[str] = []
    strings: list[str] = []
    try:
        for opcode, arg, _pos in pickletools.genops(io.BytesIO(data)):
            if opcode.name == "GLOBAL":
                found.append(str(arg).replace(" ", "."))
            elif opcode.name == "STACK_GLOBAL" and len(strings) >= 2:
                found.append(f"{strings[-2]}.{strings[-1]}")
            elif isinstance(arg, str):
                strings.append(arg)
            if opcode.name == "STOP":
                break
    except Exception:  # noqa: BLE001 - a truncated or interleaved stream (joblib arrays): keep what we read
        pass
    return list(dict.fromkeys(found))


def _from_pickle_stream(data: bytes, fmt: str, compression: str | None) -> Detection:
    names = pickle_globals(data)
    if not names:
        raise ArtifactError("looks like a pickle but no class could be read from it (corrupt or truncated)")
    roots = [n.split(".", 1)[0] for n in names]
    if "joblib" in roots:
        fmt = "joblib"
    framework = next((_MODULE_FRAMEWORKS[r] for r in roots if r in _MODULE_FRAMEWORKS), "python")
    details = {"imports": names[:50], "modules": sorted(set(roots))}
    if compression:
        details["compression"] = compression
    return Detection(framework, fmt, details)


def _detect_python_source(fileobj: BinaryIO) -> Detection:
    try:
        source = fileobj.read(2 * 1024 * 1024).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ArtifactError("a .py file must be UTF-8 text") from exc
    finally:
        fileobj.seek(0)
    if "def predict" not in source:
        raise ArtifactError("a Python model file must define a class with a predict(DataFrame) method")
    return Detection("python", "python_source")
