#!/usr/bin/env python3
"""One-off: rewrites an Avro container file's blocks with another codec
(bzip2 here), keeping the schema, sync marker and record bytes.

    python3 reencode.py small-null.avro small-bzip2.avro bzip2
"""
import bz2
import sys


def read_long(b, pos):
    shift = value = 0
    while True:
        byte = b[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return (value >> 1) ^ -(value & 1), pos


def enc_long(n):
    n = (n << 1) ^ (n >> 63)
    out = bytearray()
    while n & ~0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def enc_bytes(b):
    return enc_long(len(b)) + b


def main(src, dst, codec):
    assert codec == "bzip2"
    b = open(src, "rb").read()
    assert b[:4] == b"Obj\x01"
    pos = 4
    meta = {}
    while True:
        n, pos = read_long(b, pos)
        if n == 0:
            break
        if n < 0:
            n = -n
            _, pos = read_long(b, pos)
        for _ in range(n):
            k, pos = read_long(b, pos)
            key = b[pos:pos + k]
            pos += k
            v, pos = read_long(b, pos)
            meta[key] = b[pos:pos + v]
            pos += v
    sync = b[pos:pos + 16]
    pos += 16
    assert meta.get(b"avro.codec", b"null") == b"null"
    meta[b"avro.codec"] = codec.encode()
    out = bytearray(b"Obj\x01")
    out += enc_long(len(meta))
    for k, v in meta.items():
        out += enc_bytes(k) + enc_bytes(v)
    out += enc_long(0) + sync
    while pos < len(b):
        count, pos = read_long(b, pos)
        size, pos = read_long(b, pos)
        data = b[pos:pos + size]
        pos += size
        assert b[pos:pos + 16] == sync
        pos += 16
        out += enc_long(count) + enc_bytes(bz2.compress(data, 9)) + sync
    open(dst, "wb").write(out)


if __name__ == "__main__":
    main(*sys.argv[1:])
