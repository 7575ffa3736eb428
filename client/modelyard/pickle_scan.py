"""Walk a pickle's opcodes to list the globals it would import, without unpickling it.

A small model of the pickle machine's stack (holding only plain values, never objects) follows
the stream far enough to skip joblib's raw numpy array data exactly as ``joblib.load`` reads it, so
a global hidden after a large array is still seen. Nothing is imported or executed.
No Django imports: the registry runs this same walk at registration (the server installs the
client beside itself: `make install`, the image), so client and server see the same modules.
"""

import _compat_pickle  # the Python 2 -> 3 name table pickle.Unpickler itself uses
import contextlib
import io
import math
import pickletools
import re
import zlib

# How many pickle opcodes to walk before giving up (details["scan_complete"] is then False). Raw
# array data in joblib files and bytes payloads are skipped, not walked, so this bounds only the
# opcodes themselves; real models need far fewer.
_PICKLE_MAX_OPS = 5_000_000
# No single opcode argument of a model pickle (a name, a number) needs more than this; bytes
# payloads are skipped without being read, so this only stops hostile lengths.
_PICKLE_MAX_FIELD = 64 * 1024 * 1024
_PICKLE_MAX_LINE = 64 * 1024
_PICKLE_MAX_TEXT = 1024 * 1024  # longer strings are skipped: no module or class name is that long
# Decompressed bytes skipped (array data) before giving up on a compressed stream: bounds the time a
# decompression bomb can take. Uncompressed files are skipped by seeking, which costs nothing.
_PICKLE_MAX_SKIP = 2 * 1024 * 1024 * 1024
_JOBLIB_ARRAY = "joblib.numpy_pickle.NumpyArrayWrapper"
_CONSTRUCTORS = {"copyreg._reconstructor", "copyreg.__newobj__", "copyreg.__newobj_ex__"}


def pickle_globals(data: bytes) -> list[str]:
    """The ``module.name`` globals a pickle would import, read from its opcodes only. Tolerant: a
    truncated or corrupt stream gives the names read before the damage."""
    walk = PickleWalk(Stream(io.BytesIO(data), seekable=True))
    with contextlib.suppress(Stop, EOFError):
        walk.run()
    return list(dict.fromkeys(walk.found))


class Stop(Exception):
    """The walk cannot go on."""


class Truncated(Stop):
    pass


class Corrupt(Stop):
    pass


class Incomplete(Stop):
    """Valid so far, but the rest cannot be walked (too long, or an array layout we do not know)."""


class Stream:
    """What the opcode argument readers need (read, readline) plus skipping and a position."""

    def __init__(self, raw, seekable: bool):
        self._raw = raw
        self._seekable = seekable
        self._peeked = b""
        self.pos = 0
        self.skipped = 0

    def peek_byte(self) -> bytes:
        if not self._peeked:
            self._peeked = self._raw.read(1)
        return self._peeked

    def read(self, size: int = -1) -> bytes:
        if size < 0 or size > _PICKLE_MAX_FIELD:
            raise Corrupt(f"a field of {size} bytes at byte {self.pos}")
        data, self._peeked = self._peeked[:size], self._peeked[size:]
        if size > len(data):
            data += self._raw.read(size - len(data))
        self.pos += len(data)
        return data

    def readline(self, limit: int = _PICKLE_MAX_LINE) -> bytes:
        line = bytearray()
        while len(line) < limit:
            byte = self.read(1)
            line += byte
            if byte in (b"", b"\n"):
                break
        return bytes(line)

    def skip(self, size: int) -> None:
        if size <= 0:
            return
        if self._peeked:
            self._peeked = b""
            self.pos += 1
            size -= 1
        if self._seekable:
            try:
                self._raw.seek(size, io.SEEK_CUR)
            except (OverflowError, ValueError, OSError) as exc:
                raise Truncated(f"a block of {size} bytes runs past the end of the file") from exc
            self.pos += size
            return
        self.skipped += size
        if self.skipped > _PICKLE_MAX_SKIP:
            raise Incomplete()
        while size:
            chunk = self._raw.read(min(size, 1024 * 1024))
            if not chunk:
                raise Truncated(f"the data ends inside a block that should run to byte {self.pos + size}")
            size -= len(chunk)
            self.pos += len(chunk)

    def at_end(self) -> bool:
        return not self.peek_byte()


_OPCODES = {op.code.encode("latin-1"): op for op in pickletools.opcodes}
# Length-prefixed arguments: size of the length field. Bytes are skipped; text is read when short.
_LENGTH_PREFIXED = {
    "bytes1": 1,
    "bytes4": 4,
    "bytes8": 8,
    "bytearray8": 8,
    "string1": 1,
    "string4": 4,
    "unicodestring1": 1,
    "unicodestring4": 4,
    "unicodestring8": 8,
}


class Global(str):
    """A global the pickle would import, by its dotted name."""


class Blob:
    """Bytes (or an over-long string) that were skipped rather than read."""

    __slots__ = ("size",)

    def __init__(self, size: int):
        self.size = size


class Obj:
    """What REDUCE/NEWOBJ/INST/OBJ would build: the callable's name and its arguments, never called."""

    __slots__ = ("cls", "args", "state")

    def __init__(self, cls, args):
        self.cls = cls if isinstance(cls, Global) else None
        self.args = args if isinstance(args, tuple) else None
        self.state = None
        if self.cls in _CONSTRUCTORS and self.args and isinstance(self.args[0], Global):
            self.cls = self.args[0]  # copyreg._reconstructor(cls, ...) and friends make a cls


class PickleWalk:
    """Walks one pickle to its STOP opcode, recording every global it would import.

    joblib writes each numpy array's raw bytes right after the pickled ``NumpyArrayWrapper``;
    those bytes are skipped using the shape and dtype in the wrapper's state, so globals pickled
    after an array are found too. An object array is a nested pickle, walked in turn.
    """

    def __init__(self, stream: Stream, found: list[str] | None = None, ops: list[int] | None = None):
        self.stream = stream
        self.found = [] if found is None else found
        self._ops = ops if ops is not None else [0]  # shared with nested walks
        # joblib reads an object array's nested pickle with a plain Unpickler: no arrays inside it.
        self._joblib_arrays = ops is None
        self._proto = 0

    def run(self) -> bool:
        """True when the STOP opcode was reached; False when the walk stopped early but cleanly."""
        try:
            self._walk()
        except Incomplete:
            return False
        except (IndexError, KeyError, TypeError, ValueError, OverflowError, RecursionError) as exc:
            raise Corrupt(f"invalid opcode sequence near byte {self.stream.pos}") from exc
        return True

    def _record(self, module: str, name: str) -> Global:
        """Record a global under the name the unpickler would import: protocols 0-2 map Python 2
        names (``__builtin__.eval`` is ``builtins.eval``), as ``pickle.Unpickler.find_class`` does."""
        if self._proto < 3:
            if (module, name) in _compat_pickle.NAME_MAPPING:
                module, name = _compat_pickle.NAME_MAPPING[(module, name)]
            elif module in _compat_pickle.IMPORT_MAPPING:
                module = _compat_pickle.IMPORT_MAPPING[module]
        full = f"{module}.{name}"
        self.found.append(full)
        return Global(full)

    def _read_arg(self, op):
        desc = op.arg
        if desc is None:
            return None
        stream = self.stream
        if desc.name in _LENGTH_PREFIXED:
            width = _LENGTH_PREFIXED[desc.name]
            raw = stream.read(width)
            if len(raw) < width:
                raise Truncated(f"it ends inside the {op.name} opcode at byte {stream.pos}")
            size = int.from_bytes(raw, "little", signed=desc.name == "string4")
            if size < 0:
                raise Corrupt(f"negative length in {op.name} at byte {stream.pos}")
            if desc.name.startswith(("bytes", "bytearray")) or size > _PICKLE_MAX_TEXT:
                stream.skip(size)
                return Blob(size)
            data = stream.read(size)
            if len(data) < size:
                raise Truncated(f"it ends inside the {op.name} opcode at byte {stream.pos}")
            if not desc.name.startswith("unicode"):
                return data.decode("latin-1")
            try:
                return data.decode("utf-8", "surrogatepass")
            except UnicodeDecodeError as exc:
                raise Corrupt(f"invalid UTF-8 in {op.name} at byte {stream.pos}") from exc
        try:
            return desc.reader(stream)
        except ValueError as exc:
            if stream.at_end():
                raise Truncated(f"it ends inside the {op.name} opcode at byte {stream.pos}") from exc
            raise Corrupt(f"bad {op.name} argument at byte {stream.pos}: {exc}") from exc

    def _walk(self) -> None:  # one branch per opcode family, as in pickle.py
        stream = self.stream
        stack: list = []
        metastack: list[list] = []
        memo: dict = {}
        while True:
            self._ops[0] += 1
            if self._ops[0] > _PICKLE_MAX_OPS:
                raise Incomplete()
            pos = stream.pos
            code = stream.read(1)
            if not code:
                raise Truncated(f"it ends at byte {pos} before its STOP opcode")
            op = _OPCODES.get(code)
            if op is None:
                raise Corrupt(f"unknown opcode {code!r} at byte {pos}")
            arg = self._read_arg(op)
            name = op.name
            if name == "STOP":
                return
            if name == "PROTO":
                self._proto = arg
            elif name == "FRAME":
                continue
            if name == "MARK":
                metastack.append(stack)
                stack = []
            elif name == "GLOBAL":
                stack.append(self._record(*arg.split(" ", 1)))
            elif name == "INST":
                items, stack = stack, metastack.pop()
                stack.append(Obj(self._record(*arg.split(" ", 1)), tuple(items)))
            elif name == "STACK_GLOBAL":
                attr, module = stack.pop(), stack.pop()
                stack.append(self._record(_text(module), _text(attr)))
            elif name in ("EXT1", "EXT2", "EXT4"):
                stack.append(self._record("copyreg.extension", str(arg)))
            elif name in ("REDUCE", "NEWOBJ"):
                args = stack.pop()
                stack.append(Obj(stack.pop(), args))
            elif name == "NEWOBJ_EX":
                _kwargs, args = stack.pop(), stack.pop()
                stack.append(Obj(stack.pop(), args))
            elif name == "OBJ":
                items, stack = stack, metastack.pop()
                stack.append(Obj(items[0], tuple(items[1:])))
            elif name == "BUILD":
                state = stack.pop()
                target = stack[-1]
                if isinstance(target, Obj):
                    target.state = state
                    if target.cls == _JOBLIB_ARRAY and self._joblib_arrays:
                        self._skip_joblib_array(state)
            elif name == "MEMOIZE":
                memo[len(memo)] = stack[-1]
            elif name in ("PUT", "BINPUT", "LONG_BINPUT"):
                memo[int(arg)] = stack[-1]
            elif name in ("GET", "BINGET", "LONG_BINGET"):
                stack.append(memo[int(arg)])
            elif name == "TUPLE":
                items, stack = stack, metastack.pop()
                stack.append(tuple(items))
            elif name in ("TUPLE1", "TUPLE2", "TUPLE3"):
                size = int(name[-1])
                if len(stack) < size:
                    raise IndexError(name)
                items = tuple(stack[-size:])
                del stack[-size:]
                stack.append(items)
            elif name == "EMPTY_TUPLE":
                stack.append(())
            elif name == "EMPTY_DICT":
                stack.append({})
            elif name == "DICT":
                items, stack = stack, metastack.pop()
                stack.append(_set_items({}, items))
            elif name == "SETITEM":
                value, key = stack.pop(), stack.pop()
                _set_items(stack[-1], [key, value])
            elif name == "SETITEMS":
                items, stack = stack, metastack.pop()
                _set_items(stack[-1], items)
            elif name == "POP":
                if stack:
                    stack.pop()
                else:
                    stack = metastack.pop()
            elif name == "POP_MARK":
                stack = metastack.pop()
            elif name == "DUP":
                stack.append(stack[-1])
            elif name in ("NONE", "NEWTRUE", "NEWFALSE"):
                stack.append({"NONE": None, "NEWTRUE": True, "NEWFALSE": False}[name])
            elif op.arg is not None and not op.stack_before and len(op.stack_after) == 1:
                stack.append(arg)  # numbers, strings, skipped bytes, PERSID
            else:
                # Everything else only reshapes values we do not need: keep the stack depth right.
                before = op.stack_before
                if pickletools.markobject in before:
                    stack = metastack.pop()
                    before = before[: before.index(pickletools.markobject)]
                if len(stack) < len(before):
                    raise IndexError(name)
                del stack[len(stack) - len(before) :]
                stack.extend([None] * len(op.stack_after))

    def _skip_joblib_array(self, state) -> None:
        """Skip the array data joblib wrote after a NumpyArrayWrapper (see joblib.numpy_pickle)."""
        if not isinstance(state, dict):
            raise Corrupt(f"a joblib array without its description near byte {self.stream.pos}")
        dtype, shape = state.get("dtype"), state.get("shape")
        if not (
            isinstance(dtype, Obj)
            and dtype.cls == "numpy.dtype"
            and dtype.args
            and isinstance(dtype.args[0], str)
            and isinstance(shape, tuple)
            and all(type(n) is int and n >= 0 for n in shape)
        ):
            raise Incomplete()
        typestr = dtype.args[0]
        dstate = dtype.state if isinstance(dtype.state, tuple) else ()
        flags = dstate[7] if len(dstate) > 7 and type(dstate[7]) is int else 0
        if typestr.startswith("O") or flags & 1:
            # Object arrays are a nested pickle (its own memo), which joblib reads with the same
            # restrictions as the outer one; walk it for its globals too.
            PickleWalk(self.stream, self.found, self._ops)._walk()
            return
        if len(dstate) > 5 and type(dstate[5]) is int and dstate[5] > 0:
            itemsize = dstate[5]
        else:
            digits = re.match(r"[<>|=]?[A-Za-z]+(\d+)", typestr)
            if not digits:
                raise Incomplete()
            itemsize = int(digits.group(1))
        if state.get("numpy_array_alignment_bytes") is not None:
            padding = self.stream.read(1)
            if not padding:
                raise Truncated(f"it ends at byte {self.stream.pos} where array data should follow")
            self.stream.skip(padding[0])
        self.stream.skip(math.prod(shape) * itemsize)


def _text(value) -> str:
    return value if isinstance(value, str) else "<dynamic>"


def _set_items(target, items: list):
    if isinstance(target, dict) and len(items) % 2 == 0:
        for key, value in zip(items[::2], items[1::2], strict=True):
            with contextlib.suppress(TypeError):  # an unhashable key: not one joblib uses
                target[key] = value
    return target


class ZlibStream:
    """A zlib stream (joblib's default compression) read incrementally, never all at once, for the
    walk to read like a file."""

    def __init__(self, fileobj):
        self._fileobj = fileobj
        self._zlib = zlib.decompressobj()
        self._buffer = b""

    def read(self, size: int) -> bytes:
        while len(self._buffer) < size and not self._zlib.eof:
            data = self._zlib.unconsumed_tail or self._fileobj.read(64 * 1024)
            if not data:
                raise EOFError("compressed data ended before the end-of-stream marker")
            self._buffer += self._zlib.decompress(data, max(size - len(self._buffer), 64 * 1024))
        out, self._buffer = self._buffer[:size], self._buffer[size:]
        return out
