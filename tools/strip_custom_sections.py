"""Drops the `producers` and `target_features` custom sections of a wasm module, in place.

They name the compiler and the features it enabled, for linkers; no Proxy-Wasm host reads them.
`wasm-opt --strip-producers --strip-target-features` would drop them too, but binaryen then
re-encodes the module about 1.5 KB larger. Usage: strip_custom_sections.py MODULE.wasm
"""
import sys

DROPPED = {b"producers", b"target_features"}


def leb128(data, at):
    """The unsigned LEB128 number at `at`, and the offset after it."""
    value = shift = 0
    while True:
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, at


def stripped(data):
    if data[:8] != b"\0asm\1\0\0\0":
        raise SystemExit("not a wasm module (version 1)")
    out, at = bytearray(data[:8]), 8
    while at < len(data):
        size, body = leb128(data, at + 1)
        end = body + size
        if end > len(data):
            raise SystemExit("truncated section")
        name = b""
        if data[at] == 0:
            length, start = leb128(data, body)
            name = data[start:start + length]
        if name not in DROPPED:
            out += data[at:end]
        at = end
    return bytes(out)


if __name__ == "__main__":
    path = sys.argv[1]
    with open(path, "rb") as f:
        module = f.read()
    with open(path, "wb") as f:
        f.write(stripped(module))
