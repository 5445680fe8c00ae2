"""pprof profiles (Go's `-cpuprofile`, runtime/pprof; gzipped protobuf `perftools.profiles`).

Read directly: the protobuf wire format needs a few lines, not the protobuf package or `go tool
pprof`. Field numbers are those of pprof's profile.proto.
"""
from __future__ import annotations

import gzip
import zlib
from pathlib import Path

from perfgate.profiles import Frame, NoSamples, Profile, malformed


def looks_like(head: bytes) -> bool:
    return head[:2] == b"\x1f\x8b"


def _varint(buf: bytes, i: int) -> tuple[int, int]:
    shift = result = 0
    while True:
        if i >= len(buf):
            raise ValueError("truncated varint")
        b = buf[i]
        i += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, i
        shift += 7
        if shift > 63:
            raise ValueError("varint too long")


def _fields(buf: bytes) -> list[tuple[int, int | bytes]]:
    """(field number, value) pairs of one message: ints for varints, bytes for the rest."""
    out: list[tuple[int, int | bytes]] = []
    i = 0
    while i < len(buf):
        tag, i = _varint(buf, i)
        num, wire = tag >> 3, tag & 7
        if wire == 0:
            value, i = _varint(buf, i)
            out.append((num, value))
        elif wire == 2:
            size, i = _varint(buf, i)
            if i + size > len(buf):
                raise ValueError("truncated field")
            out.append((num, buf[i:i + size]))
            i += size
        elif wire == 1:
            out.append((num, int.from_bytes(buf[i:i + 8], "little")))
            i += 8
        elif wire == 5:
            out.append((num, int.from_bytes(buf[i:i + 4], "little")))
            i += 4
        else:
            raise ValueError(f"wire type {wire}")
    return out


def _ints(value: int | bytes) -> list[int]:
    """A repeated integer field: packed (bytes) or one varint."""
    if isinstance(value, int):
        return [value]
    out, i = [], 0
    while i < len(value):
        v, i = _varint(value, i)
        out.append(v)
    return out


def _signed(v: int) -> int:
    return v - (1 << 64) if v >= 1 << 63 else v


def parse(path: Path) -> Profile:
    try:
        raw = gzip.decompress(Path(path).read_bytes())
        top = _fields(raw)
        strings = [v.decode("utf-8", errors="replace") for n, v in top
                   if n == 6 and isinstance(v, bytes)]
        functions: dict[int, tuple[str, str, int]] = {}
        for n, v in top:
            if n == 5:
                f = dict(_fields(v))
                functions[f.get(1, 0)] = (strings[f.get(2, 0)], strings[f.get(4, 0)],
                                          _signed(f.get(5, 0)))
        locations: dict[int, tuple[Frame, ...]] = {}
        for n, v in top:
            if n != 4:
                continue
            loc = _fields(v)
            lid = next((x for k, x in loc if k == 1), 0)
            frames = []
            for k, line in loc:
                if k != 4:
                    continue
                ln = dict(_fields(line))
                name, file, start = functions.get(ln.get(1, 0), ("?", "", 0))
                frames.append(Frame(file, _signed(ln.get(2, 0)) or start, name))
            # The last line is the caller the earlier ones were inlined into: outermost first.
            locations[lid] = tuple(reversed(frames))
        types = [dict(_fields(v)) for n, v in top if n == 1]
        names = [(strings[t.get(1, 0)], strings[t.get(2, 0)]) for t in types]
        default = next((v for n, v in top if n == 14 and isinstance(v, int)), 0)
        pick = next((i for i, (kind, _) in enumerate(names) if default and kind == strings[default]),
                    next((i for i, (kind, _) in enumerate(names) if kind in ("cpu", "wall")),
                         len(names) - 1))
        unit = names[pick][1] if names else "samples"
        scale = 1e-9 if unit == "nanoseconds" else 1e-6 if unit == "microseconds" else 1.0
        prof = Profile(source=str(path), unit="s" if scale != 1.0 else (unit or "samples"))
        for n, v in top:
            if n != 2:
                continue
            sample = _fields(v)
            loc_ids = [x for k, val in sample if k == 1 for x in _ints(val)]
            values = [_signed(x) for k, val in sample if k == 2 for x in _ints(val)]
            if pick >= len(values) or values[pick] <= 0:
                continue
            # location_id[0] is the leaf; a stack runs root -> leaf.
            stack = tuple(f for lid in reversed(loc_ids) for f in locations.get(lid, ()))
            prof.stacks.append((stack, values[pick] * scale))
    except (OSError, EOFError, gzip.BadGzipFile, zlib.error, ValueError, IndexError, KeyError,
            TypeError, AttributeError) as exc:
        raise malformed(path, f"invalid pprof profile ({exc.__class__.__name__}: {exc})") \
            from None
    prof.stacks = [(s, w) for s, w in prof.stacks if s]
    if not prof.stacks:
        raise NoSamples(path)
    return prof
