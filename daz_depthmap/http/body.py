"""API request bodies read as they arrive, the EXR going straight to a private temporary file.

A JSON body's ``image`` (base64, optionally a ``data:`` URL) is decoded piece by piece into the file, and a multipart
upload's ``file`` part is written to it as it comes; every other field is kept as text (limited in size and nesting)
and parsed once the body is complete. So a request holds a few small buffers however large its image, never the
body, the base64 text and the bytes at once. The EXR's first bytes are checked as soon as they arrive: anything else
is refused before it is written out (:func:`~daz_depthmap.http.api.check_exr`).

Every problem is an :class:`~daz_depthmap.http.api.ApiError` (400 not JSON / not multipart / nested too deeply,
413 fields too large); the problems of the image itself (not base64, not an EXR) are kept until the body's other
fields, the file's name among them, are known, and said by :meth:`ExrSink.check`.
"""

from __future__ import annotations

import binascii
import contextlib
import json
import os
import re
from pathlib import Path
from typing import Any

from ..exr.layout import EXR_MAGIC
from .api import ApiError, check_exr, drop_temporary, new_temporary

try:  # python-multipart 0.0.13 and later; older releases are the module ``multipart``
    from python_multipart.exceptions import MultipartParseError
    from python_multipart.multipart import MultipartParser, parse_options_header
except ImportError:  # pragma: no cover - older python-multipart
    from multipart.exceptions import MultipartParseError  # type: ignore[no-redef]
    from multipart.multipart import MultipartParser, parse_options_header  # type: ignore[no-redef]

#: The most the fields besides the image may hold together (options, a recipe, names), in bytes.
MAX_FIELDS_BYTES = 4 * 2**20
#: The deepest nesting of arrays and objects a field may have (a recipe needs four levels).
MAX_NESTING = 32
#: The most parts a multipart upload may have.
MAX_PARTS = 64
#: Decoded bytes gathered before each write to the temporary file.
_WRITE_BYTES = 1 << 20

_BASE64 = re.compile(rb"[A-Za-z0-9+/]*={0,2}")
_STRING_END = re.compile(rb'["\\]')
_VALUE_TOP = re.compile(rb'[\[\]{}",]')  # what can end a value, or open or close a nested one, at depth 0
_VALUE_NESTED = re.compile(rb'[\[\]{}"]')
_ESCAPES = {ord(k): v for k, v in zip('"\\/bfnrt', b'"\\/\b\f\n\r\t', strict=True)}
_WHITESPACE = b" \t\r\n"


def loads(text: str | bytes, what: str) -> Any:
    """``json.loads`` for a field: 400 (never a ``RecursionError``) when it is not JSON or nested too deeply."""
    if nesting(text) > MAX_NESTING:
        raise ApiError(400, f"{what} is nested too deeply (more than {MAX_NESTING} levels of arrays and objects)")
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        raise ApiError(400, f"{what} is not valid JSON") from None


def nesting(text: str | bytes) -> int:
    """The deepest nesting of ``[`` and ``{`` in JSON text, outside its strings (without parsing it)."""
    data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else bytes(text)
    deepest = depth = 0
    position, in_string = 0, False
    while True:
        found = (_STRING_END if in_string else _VALUE_NESTED).search(data, position)
        if found is None:
            return deepest
        char, position = data[found.start()], found.end()
        if in_string:
            if char == 0x5C:  # backslash: the next byte is escaped
                position += 1
            else:
                in_string = False
        elif char == 0x22:
            in_string = True
        elif char in b"[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1


class ExrSink:
    """The posted EXR, written to a private temporary file (``daz_depthmap-api-*.exr``) as its bytes arrive.

    The first bytes are checked as soon as there are four: anything but an OpenEXR file is no longer written.
    :meth:`discard` removes the file (the route does, whatever happens; the server's exit removes any left)."""

    def __init__(self) -> None:
        self.path: Path | None = None
        self.size = 0
        self.head = b""  # the first 8 bytes
        self.problem: ApiError | None = None  # base64 or form problems, said with the name once it is known
        self._fd: int | None = None
        self._pending = bytearray()

    @property
    def refused(self) -> bool:
        return self.problem is not None or (len(self.head) >= 4 and not _exr_head(self.head))

    def write(self, data: bytes | memoryview) -> None:
        if self.refused or not data:
            return
        if len(self.head) < 8:
            self.head += bytes(data[: 8 - len(self.head)])
            if self.refused:
                self._pending.clear()
                return
        self.size += len(data)
        self._pending += data
        if len(self._pending) >= _WRITE_BYTES:
            self._flush()

    def _flush(self) -> None:
        if self._fd is None and self._pending:  # the file is made once there is something to keep
            self._fd, self.path = new_temporary()
        if self._fd is not None and self._pending:
            view = memoryview(self._pending)
            while view:
                view = view[os.write(self._fd, view) :]
            view.release()
        self._pending.clear()

    def finish(self) -> None:
        """Write what is still gathered and close the file (it stays until :meth:`discard`)."""
        try:
            if not self.refused:
                self._flush()
        except OSError as exc:
            raise ApiError(507 if exc.errno == 28 else 500, f"the server could not keep the upload ({exc})") from None
        finally:
            self._close()

    def check(self, name: str) -> Path:
        """The file, once the body is complete; :class:`ApiError` (400 the image's encoding, 415 not an EXR)."""
        if self.problem is not None:
            raise ApiError(self.problem.status, f"{name}: {self.problem.message}")
        check_exr(self.head, name)
        assert self.path is not None
        return self.path

    def _close(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None

    def discard(self) -> None:
        self._close()
        self._pending.clear()
        if self.path is not None:
            drop_temporary(self.path)


def _exr_head(head: bytes) -> bool:
    return head[:4] == EXR_MAGIC


class Base64Writer:
    """Base64 text (as the WebUI's API takes images: optionally a ``data:…;base64,`` URL) decoded into a sink piece by
    piece, as strictly as ``base64.b64decode(text, validate=True)``: no whitespace, padding only at the end."""

    _PREFIX_LIMIT = 512

    def __init__(self, sink: ExrSink) -> None:
        self.sink = sink
        self.chars = 0  # base64 characters seen
        self._carry = b""
        self._prefix: bytearray | None = bytearray()  # the first bytes, until a data: URL's prefix is known
        self._ended = False  # a padded group was decoded: nothing may follow

    def feed(self, text: bytes) -> None:
        if self.sink.problem is not None or not text:
            return
        if self._prefix is not None:
            self._prefix += text
            if len(self._prefix) < 5 and b"data:".startswith(bytes(self._prefix)):
                return
            if self._prefix.startswith(b"data:"):
                comma = self._prefix.find(b",")
                if comma < 0:
                    if len(self._prefix) > self._PREFIX_LIMIT:
                        self._bad()
                    return
                text = bytes(self._prefix[comma + 1 :])
            else:
                text = bytes(self._prefix)
            self._prefix = None
        data = self._carry + text
        if self._ended or not _BASE64.fullmatch(data):
            self._bad()
            return
        self.chars += len(text)
        whole = len(data) - len(data) % 4
        if whole:
            if not self.sink.refused:  # (a file refused by its first bytes: its base64 is still checked)
                self.sink.write(binascii.a2b_base64(data[:whole]))
            self._ended = data[whole - 1] == 0x3D  # "="
        self._carry = data[whole:]

    def finish(self) -> None:
        if self._prefix is not None:  # shorter than "data:": plain base64
            text, self._prefix = bytes(self._prefix), None
            self.feed(text)
        if self.sink.problem is None and self._carry:
            self._bad()

    def _bad(self) -> None:
        self.sink.problem = ApiError(400, "'image' is not valid base64")


class JsonBody:
    """A JSON object read as it arrives: its ``image`` string decoded into an :class:`ExrSink`, every other field
    kept as text and parsed at the end (:attr:`fields`)."""

    def __init__(self, sink: ExrSink, image_field: str = "image") -> None:
        self.sink = sink
        self.image_field = image_field
        self.image_seen = False  # the image came as a string (decoded into the sink)
        self.image_chars = 0
        self.fields: dict[str, Any] = {}
        self._state = "start"
        self._buffer = b""
        self._key = ""
        self._raw = bytearray()
        self._depth = 0
        self._in_string = False
        self._fields_bytes = 0
        self._writer: Base64Writer | None = None

    # ------------------------------------------------------------------------------------------------------------
    def feed(self, chunk: bytes) -> None:
        data = self._buffer + chunk if self._buffer else chunk
        self._buffer = b""
        position = 0
        while position < len(data):
            step = getattr(self, f"_in_{self._state}")(data, position)
            if step is None:  # needs more bytes: keep the rest
                self._buffer = data[position:]
                if len(self._buffer) > 64 * 1024:
                    raise ApiError(400, "the request body is not valid JSON")
                return
            position = step

    def close(self) -> dict[str, Any]:
        if self._buffer:
            self.feed(b"")
        if self._state == "start" and not self._buffer:
            raise ApiError(400, "the request body is not valid JSON")
        if self._state == "value" and self._depth == 0 and not self._in_string:
            self._end_value()  # a scalar at the very end: not valid (no closing brace), said below
        if self._state != "end":
            raise ApiError(400, "the request body is not valid JSON")
        return self.fields

    # ------------------------------------------------------------------------------------------------------------
    # states: each takes the data and a position, returns the next position (None: wait for more bytes)
    @staticmethod
    def _skip(data: bytes, position: int) -> int:
        while position < len(data) and data[position] in _WHITESPACE:
            position += 1
        return position

    def _in_start(self, data: bytes, position: int) -> int | None:
        if data.startswith(b"\xef\xbb\xbf", position):
            position += 3
        elif len(data) - position < 3 and b"\xef\xbb\xbf".startswith(data[position:]):
            return None
        position = self._skip(data, position)
        if position == len(data):
            return position
        if data[position] != 0x7B:  # "{"
            if data[position] in b'["-0123456789tfn':
                raise ApiError(400, "the request body must be a JSON object")
            raise ApiError(400, "the request body is not valid JSON")
        self._state = "first_key"
        return position + 1

    def _in_first_key(self, data: bytes, position: int) -> int | None:
        position = self._skip(data, position)
        if position == len(data):
            return position
        if data[position] == 0x7D:  # "}": an empty object
            self._state = "end"
            return position + 1
        self._state = "key"
        return position

    def _in_next_key(self, data: bytes, position: int) -> int | None:
        position = self._skip(data, position)
        if position == len(data):
            return position
        self._state = "key"
        return position

    def _in_key(self, data: bytes, position: int) -> int | None:
        if data[position] != 0x22:
            raise ApiError(400, "the request body is not valid JSON")
        end = position + 1
        while True:
            found = _STRING_END.search(data, end)
            if found is None:
                if len(data) - position > 4096:
                    raise ApiError(400, "a field name of the request body is too long")
                return None
            if data[found.start()] == 0x5C:
                if found.end() >= len(data):
                    return None
                end = found.end() + 1
                continue
            end = found.end()
            break
        try:
            self._key = json.loads(data[position:end])
        except ValueError:
            raise ApiError(400, "the request body is not valid JSON") from None
        self._count(end - position)
        self._state = "colon"
        return end

    def _in_colon(self, data: bytes, position: int) -> int | None:
        position = self._skip(data, position)
        if position == len(data):
            return position
        if data[position] != 0x3A:
            raise ApiError(400, "the request body is not valid JSON")
        self._state = "value_start"
        return position + 1

    def _in_value_start(self, data: bytes, position: int) -> int | None:
        position = self._skip(data, position)
        if position == len(data):
            return position
        if self._key == self.image_field:
            if self.image_seen or self.image_field in self.fields:
                raise ApiError(400, f"the field {self.image_field!r} is given twice")
            if data[position] == 0x22:
                self.image_seen = True
                self._writer = Base64Writer(self.sink)
                self._state = "image"
                return position + 1
        self._raw.clear()
        self._depth, self._in_string = 0, False
        self._state = "value"
        return position

    def _in_image(self, data: bytes, position: int) -> int | None:
        writer = self._writer
        assert writer is not None
        while position < len(data):
            quote = data.find(b'"', position)  # (find is memchr: base64 goes by at memory speed)
            escape = data.find(b"\\", position, len(data) if quote < 0 else quote)
            end = escape if escape >= 0 else quote if quote >= 0 else len(data)
            if end > position:
                writer.feed(data[position:end])
            if end == len(data):
                return len(data)
            if data[end] == 0x22:  # the string's end
                writer.finish()
                self.image_chars = writer.chars
                self._writer = None
                self._state = "after_value"
                return end + 1
            # an escape inside the base64: "\/" is "/" (some encoders write it so), others are not base64
            if end + 1 >= len(data):
                return None if end == position else end
            kind = data[end + 1]
            if kind == 0x75:  # \uXXXX
                if end + 6 > len(data):
                    return None if end == position else end
                try:
                    char = chr(int(data[end + 2 : end + 6], 16))
                except ValueError:
                    raise ApiError(400, "the request body is not valid JSON") from None
                writer.feed(char.encode("utf-8", "surrogatepass"))
                position = end + 6
            elif kind in _ESCAPES:
                writer.feed(bytes([_ESCAPES[kind]]))
                position = end + 2
            else:
                raise ApiError(400, "the request body is not valid JSON")
        return position

    def _in_value(self, data: bytes, position: int) -> int | None:
        start = position
        while True:
            pattern = _STRING_END if self._in_string else _VALUE_TOP if self._depth == 0 else _VALUE_NESTED
            found = pattern.search(data, position)
            if found is None:
                self._keep(data[start:])
                return len(data)
            at, char = found.start(), data[found.start()]
            position = at + 1
            if self._in_string:
                if char == 0x5C:
                    if position >= len(data):  # the escaped byte is in the next piece: wait for it
                        self._keep(data[start:at])
                        return None if at == start else at
                    position += 1
                else:
                    self._in_string = False
            elif char == 0x22:
                self._in_string = True
            elif char in b"[{":
                self._depth += 1
                if self._depth > MAX_NESTING:
                    raise ApiError(
                        400,
                        f"the field {self._key!r} is nested too deeply "
                        f"(more than {MAX_NESTING} levels of arrays and objects)",
                    )
            elif char in b"]}" and self._depth > 0:
                self._depth -= 1
            else:  # "," or "}" at depth 0: the value ended before it
                self._keep(data[start:at])
                self._end_value()
                return at

    def _keep(self, piece: bytes) -> None:
        self._count(len(piece))
        self._raw += piece

    def _count(self, size: int) -> None:
        self._fields_bytes += size
        if self._fields_bytes > MAX_FIELDS_BYTES:
            raise ApiError(413, f"the request's fields besides the image are over {MAX_FIELDS_BYTES:,} bytes")

    def _end_value(self) -> None:
        text = bytes(self._raw).strip()
        self._raw.clear()
        try:
            self.fields[self._key] = json.loads(text)
        except (ValueError, RecursionError):
            raise ApiError(400, "the request body is not valid JSON") from None
        self._state = "after_value"

    def _in_after_value(self, data: bytes, position: int) -> int | None:
        position = self._skip(data, position)
        if position == len(data):
            return position
        if data[position] == 0x2C:  # ","
            self._state = "next_key"
        elif data[position] == 0x7D:  # "}"
            self._state = "end"
        else:
            raise ApiError(400, "the request body is not valid JSON")
        return position + 1

    def _in_end(self, data: bytes, position: int) -> int | None:
        position = self._skip(data, position)
        if position < len(data):
            raise ApiError(400, "the request body is not valid JSON")
        return position


class MultipartBody:
    """A ``multipart/form-data`` upload read as it arrives: the part named ``file`` (with a file name) written to an
    :class:`ExrSink`, every other part kept as text (:attr:`items`, in order)."""

    def __init__(self, content_type: str, sink: ExrSink, file_field: str = "file") -> None:
        _, options = parse_options_header(content_type)
        boundary = options.get(b"boundary")
        if not boundary:
            raise ApiError(400, "a multipart request needs the boundary in its Content-Type")
        self.sink = sink
        self.file_field = file_field
        self.filename: str | None = None  # the file part's name (None: no file part)
        self.items: list[tuple[str, str]] = []
        self.complete = False
        self._parts = 0
        self._fields_bytes = 0
        self._header_field = bytearray()
        self._header_value = bytearray()
        self._headers: dict[bytes, bytes] = {}
        self._name: str | None = None
        self._to_file = False
        self._skip = False  # a file part of another name
        self._text = bytearray()
        self._problem: ApiError | None = None
        callbacks = {
            "on_part_begin": self._part_begin,
            "on_header_field": lambda data, start, end: self._header(self._header_field, data[start:end]),
            "on_header_value": lambda data, start, end: self._header(self._header_value, data[start:end]),
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._part_data,
            "on_part_end": self._part_end,
            "on_end": self._end,
        }
        self._parser = MultipartParser(boundary, callbacks)

    def feed(self, chunk: bytes) -> None:
        try:
            self._parser.write(chunk)
        except MultipartParseError:
            raise ApiError(400, "the multipart body cannot be read (a broken boundary or part header)") from None
        if self._problem is not None:
            raise self._problem

    def close(self) -> None:
        with contextlib.suppress(MultipartParseError):
            self._parser.finalize()
        if self._problem is not None:
            raise self._problem
        if not self.complete:
            raise ApiError(400, "the multipart body ends before its closing boundary")

    # callbacks (their exceptions are kept and raised by feed: the parser's own handling is not ours to rely on)
    def _fail(self, error: ApiError) -> None:
        if self._problem is None:
            self._problem = error

    def _part_begin(self) -> None:
        self._parts += 1
        if self._parts > MAX_PARTS:
            self._fail(ApiError(400, f"a multipart request may have at most {MAX_PARTS} parts"))
        self._headers.clear()
        self._header_field.clear()
        self._header_value.clear()
        self._name, self._to_file, self._skip = None, False, False
        self._text.clear()

    def _header(self, into: bytearray, data: bytes) -> None:
        self._count(len(data))
        into += data

    def _header_end(self) -> None:
        self._headers[bytes(self._header_field).lower()] = bytes(self._header_value)
        self._header_field.clear()
        self._header_value.clear()

    def _headers_finished(self) -> None:
        disposition = self._headers.get(b"content-disposition", b"")
        _, options = parse_options_header(disposition)
        name, filename = options.get(b"name"), options.get(b"filename")
        if name is None:
            self._fail(ApiError(400, "a part of the multipart body has no name (Content-Disposition: form-data)"))
            return
        self._name = name.decode("utf-8", "replace")
        if filename is None:
            return
        if self._name != self.file_field:  # another file: not read
            self._name, self._skip = None, True
            return
        if self.filename is not None:
            self._fail(ApiError(400, f"the file field {self.file_field!r} is given twice"))
            return
        self.filename = filename.decode("utf-8", "replace")
        self._to_file = True

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._problem is not None or self._skip:
            return
        if self._to_file:
            self.sink.write(memoryview(data)[start:end])
        else:
            self._count(end - start)
            self._text += data[start:end]

    def _part_end(self) -> None:
        if self._problem is not None or self._to_file or self._name is None:
            return
        try:
            self.items.append((self._name, self._text.decode("utf-8")))
        except UnicodeDecodeError:
            self._fail(ApiError(400, f"the form field {self._name!r} is not UTF-8 text"))
        self._text.clear()

    def _end(self) -> None:
        self.complete = True

    def _count(self, size: int) -> None:
        self._fields_bytes += size
        if self._fields_bytes > MAX_FIELDS_BYTES:
            self._fail(ApiError(413, f"the request's fields besides the file are over {MAX_FIELDS_BYTES:,} bytes"))
