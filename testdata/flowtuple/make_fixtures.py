#!/usr/bin/env python3
"""Writes the flowtuple test fixtures and their expected outputs (one-off, rerunnable).

    pip install fastavro zstandard cramjam
    cd testdata/flowtuple && python3 make_fixtures.py

Deterministic: fixed seeds, fixed sync markers, gzip mtime 0.  Expected outputs come
from reference.py (an independent implementation of the spec), see README.md.
"""
import bz2
import gzip
import hashlib
import io
import os
import random
import sys

import fastavro
import zstandard
from fastavro.write import Writer

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import reference  # noqa: E402

EXP = os.path.join(HERE, "expected")

V3_FIELDS = [
    ("time", "long"), ("src_ip", "long"), ("dst_ip", "long"), ("src_port", "int"),
    ("dst_port", "int"), ("protocol", "int"), ("ttl", "int"), ("tcp_flags", "int"),
    ("ip_len", "int"), ("tcp_synlen", "int"), ("tcp_synwinlen", "int"),
    ("packet_cnt", "long"), ("is_spoofed", "int"), ("is_masscan", "int"),
    ("maxmind_continent", "string"), ("maxmind_country", "string"),
    ("netacq_continent", "string"), ("netacq_country", "string"), ("prefix2asn", "long"),
]
OLD_MISSING = {"tcp_synlen", "tcp_synwinlen", "is_spoofed", "is_masscan"}


def schema(fields):
    return {"type": "record", "name": "flowtuple", "namespace": "org.caida.corsaro",
            "fields": [{"name": n, "type": t} for n, t in fields]}


V3 = schema(V3_FIELDS)
OLD = schema([f for f in V3_FIELDS if f[0] not in OLD_MISSING])


def sync(tag):
    return hashlib.md5(tag.encode()).digest()  # 16 bytes, fixed


def ip(s):
    return reference.ip_to_int(s)


def rec(t, src, dst, sp=0, dp=0, proto=6, ip_len=40, pkts=1, spoof=0, mass=0,
        mm=("NA", "US"), na=("NA", "US"), asn=15169, ttl=64, flags=2):
    return {
        "time": t, "src_ip": src if isinstance(src, int) else ip(src),
        "dst_ip": dst if isinstance(dst, int) else ip(dst),
        "src_port": sp, "dst_port": dp, "protocol": proto, "ttl": ttl,
        "tcp_flags": flags if proto == 6 else 0, "ip_len": ip_len,
        "tcp_synlen": 20 if proto == 6 else 0, "tcp_synwinlen": 1024 if proto == 6 else 0,
        "packet_cnt": pkts, "is_spoofed": spoof, "is_masscan": mass,
        "maxmind_continent": mm[0], "maxmind_country": mm[1],
        "netacq_continent": na[0], "netacq_country": na[1], "prefix2asn": asn,
    }


# ---------------------------------------------------------------- small fixture
TIMES = [0, 1700000000, 1700000060, 1700000120, 1700000180, 1699999880]
PORT_EDGES = [0, 1, 1023, 1024, 4999, 5000, 5001, 5060, 6881, 8080, 8081, 8443, 65535]
ICMP = [(0, 0), (3, 1), (3, 3), (3, 13), (8, 0), (10, 0), (11, 0), (255, 255)]
OTHER_PROTOS = [47, 0, 58, 255]
RESERVED_EDGES = []  # (ip, inside?)
for net, plen in reference.RESERVED:
    lo = ip(net)
    hi = lo + (1 << (32 - plen)) - 1
    RESERVED_EDGES += [(lo, True), (hi, True), (hi + 1, False)]
    if lo > 0:
        RESERVED_EDGES.append((lo - 1, False))
RESERVED_EDGES += [(ip("223.255.255.255"), False), (ip("224.0.0.0"), True),
                   (ip("255.255.255.255"), True)]
# drop duplicates (e.g. 192.0.0.255+1 == 192.0.1.0 is fine, but keep list unique)
_seen = set()
RESERVED_EDGES = [e for e in RESERVED_EDGES if not (e[0] in _seen or _seen.add(e[0]))]
for a, inside in RESERVED_EDGES:
    assert reference.is_unrouted(a) == inside, (a, inside)

COUNTED_FLAGS = [(0, 0), (0, 1), (1, 1), (2, 1), (0, 2), (0, -1)]
UNCOUNTED_FLAGS = [(1, 0), (2, 0), (1, 2), (2, 2), (-1, 0), (1, -1)]
GEO_POOL = [("EU", "DE"), ("EU", "FR"), ("NA", "US"), ("AS", "CN"), ("AS", "RU"),
            ("EU", "RU"), ("??", "??"), ("SA", "BR"), ("OC", "AU"), ("AF", "ZA")]
WEIRD_CONT = ["??", "EU", "", " x", "a\tb", "\x01z", "\x7fA", "Éz"]
WEIRD_CTRY = ["??", "EU", "", " x", "a\tb", "\x01z", "\x7fA", "Éz", "x,", 'q"', "b\\", "DE"]
ASNS = [0, 9, 1, 15169, 3356, 64512, 4200000000, 4294967295]
PORT_POOL = [0, 23, 53, 80, 123, 443, 1023, 1024, 5000, 5060, 6881,
             8080, 8081, 8443, 65535, 40000, 40001]
IPLEN_POOL = [28, 40, 52, 60, 576, 1500, 65535]
PKT_POOL = [1, 1, 1, 2, 3, 10, 100, 1000]


def sample_ips(k):
    """IPs whose host parts equal / differ from interval ordinal k (sample:N tests),
    sharing /24 and /1 prefixes (prefixagg tests)."""
    src = ["20.30.40.%d" % k, "20.30.40.%d" % (k + 1), "20.30.41.%d" % (k + 4),
           "130.1.1.%d" % k, "130.1.1.%d" % (k + 8), "20.30.40.%d" % (k % 4 + 100)]
    dst = ["0.0.0.%d" % k, "128.0.0.%d" % k, "0.0.0.%d" % (k + 1), "44.0.0.%d" % k,
           "44.0.0.%d" % (k + 4), "44.1.2.%d" % (k % 4 + 4)]
    return [ip(s) for s in src], [ip(d) for d in dst]


def random_records(rng, t, k, n, flag_pool, src_filter=None):
    s_k, d_k = sample_ips(k)
    src_pool = s_k + [a for a, _ in RESERVED_EDGES[::3]] + [
        ip("20.30.40.%d" % i) for i in range(8)] + [ip("130.1.1.%d" % i) for i in range(6)] + [
        rng.randrange(1 << 32) for _ in range(6)]
    if src_filter is not None:
        src_pool = [a for a in src_pool if src_filter(a)]
    dst_pool = d_k + [ip("44.0.0.%d" % i) for i in range(8)] + [
        ip("0.0.0.%d" % i) for i in range(6)] + [ip("128.0.0.%d" % i) for i in range(6)] + [
        ip("44.200.100.50")]
    out = []
    for _ in range(n):
        proto = rng.choice([6] * 5 + [17] * 3 + [1] * 2 + [47, 0])
        if proto == 1:
            sp, dp = rng.choice(ICMP)
        elif proto in (6, 17):
            sp, dp = rng.choice(PORT_POOL), rng.choice(PORT_POOL)
        else:
            sp, dp = 0, 0
        spoof, mass = rng.choice(flag_pool)
        na = rng.choice(GEO_POOL)
        mm = rng.choice(GEO_POOL) if rng.random() < 0.3 else na
        out.append(rec(t, rng.choice(src_pool), rng.choice(dst_pool), sp, dp, proto,
                       rng.choice(IPLEN_POOL), rng.choice(PKT_POOL), spoof, mass, mm, na,
                       rng.choice(ASNS), ttl=rng.randrange(1, 256)))
    return out


def small_records():
    rng = random.Random(20261122)
    R = []
    # ---- interval 0: time 0 -- port edges, icmp, other protocols, odd geo strings
    t, k = TIMES[0], 0
    s_k, d_k = sample_ips(k)
    for i, p in enumerate(PORT_EDGES):
        q = PORT_EDGES[-1 - i]
        R.append(rec(t, s_k[i % 6], d_k[i % 6], p, q, 6, 40, 1 + i, asn=ASNS[i % 8]))
        R.append(rec(t, s_k[(i + 1) % 6], d_k[(i + 2) % 6], q, p, 17, 60, 2, asn=ASNS[(i + 3) % 8]))
    for i, (ty, co) in enumerate(ICMP):
        R.append(rec(t, s_k[i % 6], d_k[(i + 3) % 6], ty, co, 1, 84, 1 + i % 3, asn=ASNS[i % 8]))
    for i, pr in enumerate(OTHER_PROTOS):
        R.append(rec(t, s_k[i], d_k[i], 0, 0, pr, 100, 5, asn=9))
    for i, c in enumerate(WEIRD_CTRY):
        cont = WEIRD_CONT[i % len(WEIRD_CONT)]
        R.append(rec(t, s_k[i % 6], d_k[(i + 1) % 6], 80, 443, 6, 40, 1,
                     mm=(WEIRD_CONT[(i + 3) % len(WEIRD_CONT)], WEIRD_CTRY[-1 - i]),
                     na=(cont, c), asn=ASNS[i % 8]))
    R += random_records(rng, t, k, 40, COUNTED_FLAGS + UNCOUNTED_FLAGS)
    # ---- interval 1: reserved-range edges, spoof flag combinations, a country on 2 continents
    t, k = TIMES[1], 1
    s_k, d_k = sample_ips(k)
    for i, (a, _inside) in enumerate(RESERVED_EDGES):
        spoof, mass = (COUNTED_FLAGS + UNCOUNTED_FLAGS)[i % 12] if i % 3 == 2 else (0, 0)
        R.append(rec(t, a, d_k[i % 6], 40000 + i % 3, 80, 6 if i % 2 else 17, 40, 1 + i % 4,
                     spoof, mass, asn=ASNS[i % 8]))
    for i, (spoof, mass) in enumerate(COUNTED_FLAGS + UNCOUNTED_FLAGS):
        R.append(rec(t, s_k[i % 6], d_k[i % 6], 1024 + i, 443, 6, 52, 7, spoof, mass,
                     asn=64512))
    # RU: first record (not counted in nonspoofed) says AS, then EU (counted), then AS
    R.append(rec(t, "1.2.3.4", "44.0.0.9", 80, 80, 6, 40, 1, 1, 0, mm=("AS", "TR"), na=("AS", "RU")))
    R.append(rec(t, "1.2.3.5", "44.0.0.9", 80, 80, 6, 40, 1, 0, 0, mm=("EU", "TR"), na=("EU", "RU")))
    R.append(rec(t, "1.2.3.6", "44.0.0.9", 80, 80, 6, 40, 1, 0, 0, mm=("AS", "TR"), na=("AS", "RU")))
    R.append(rec(t, "1.2.3.7", "44.0.0.9", 80, 80, 6, 40, 1, 0, 1, mm=("", "TR"), na=("", "")))
    R += random_records(rng, t, k, 40, COUNTED_FLAGS + UNCOUNTED_FLAGS)
    # ---- interval 2: nothing passes the nonspoofed test
    t, k = TIMES[2], 2
    R += random_records(rng, t, k, 60, UNCOUNTED_FLAGS)
    # ---- interval 3: nothing counts for unrouted-nonspoofed (routed & nonspoofed, or unrouted & spoofed)
    t, k = TIMES[3], 3
    part_a = random_records(rng, t, k, 40, COUNTED_FLAGS, lambda a: not reference.is_unrouted(a))
    part_b = random_records(rng, t, k, 30, UNCOUNTED_FLAGS, reference.is_unrouted)
    mixed = part_a + part_b
    rng.shuffle(mixed)
    R += mixed
    # ---- interval 4: huge packet counts (byte sums > 2^64), reserved edges again
    t, k = TIMES[4], 4
    s_k, d_k = sample_ips(k)
    for i in range(12):
        R.append(rec(t, s_k[i % 6], d_k[i % 6], 80 if i % 3 else 53, 443 if i % 2 else 53,
                     6 if i % 3 else 17, 65535, 1 << 40, *COUNTED_FLAGS[i % 6], asn=ASNS[i % 8]))
    R.append(rec(t, "203.0.113.255", "44.0.0.1", 80, 80, 6, 65535, 1 << 55, 0, 0, asn=3356))
    R.append(rec(t, "8.8.8.8", "44.0.0.1", 0, 0, 47, 65535, (1 << 55) + 12345, 0, 1, asn=15169))
    for i, (a, _inside) in enumerate(RESERVED_EDGES[::2]):
        R.append(rec(t, a, d_k[i % 6], 80, 5060, 17 if i % 2 else 6, 1500, 3,
                     *(COUNTED_FLAGS + UNCOUNTED_FLAGS)[i % 12], asn=ASNS[i % 8]))
    for i, c in enumerate(WEIRD_CTRY[::2]):
        R.append(rec(t, s_k[i % 6], d_k[i % 6], 123, 123, 17, 76, 1,
                     na=(WEIRD_CONT[-1 - i % len(WEIRD_CONT)], c), mm=(WEIRD_CONT[i % 8], c)))
    R += random_records(rng, t, k, 40, COUNTED_FLAGS + UNCOUNTED_FLAGS)
    # ---- interval 5: an earlier timestamp than interval 1 (file order, not time order)
    t, k = TIMES[5], 5
    s_k, d_k = sample_ips(k)
    for i, p in enumerate(PORT_EDGES[::2]):
        R.append(rec(t, s_k[i % 6], d_k[i % 6], p, p, 6 if i % 2 else 17, 40, 1, *COUNTED_FLAGS[i % 6]))
    R += random_records(rng, t, k, 40, COUNTED_FLAGS + UNCOUNTED_FLAGS)
    return R


def write_avro(path, sch, records, codec="null", sync_interval=1000, tag=None):
    with open(path, "wb") as f:
        fastavro.writer(f, fastavro.parse_schema(sch), records, codec=codec,
                        sync_interval=sync_interval, sync_marker=sync(tag or os.path.basename(path)))


def write_blocks(path, sch, groups, codec="deflate"):
    """One Avro block per group of records (block boundaries = interval boundaries)."""
    with open(path, "wb") as f:
        w = Writer(f, fastavro.parse_schema(sch), codec=codec, sync_interval=1 << 30,
                   sync_marker=sync(os.path.basename(path)))
        for g in groups:
            for r in g:
                w.write(r)
            w.flush()


def read_long(b, pos):
    shift = acc = 0
    while True:
        c = b[pos]
        pos += 1
        acc |= (c & 0x7F) << shift
        shift += 7
        if not c & 0x80:
            return (acc >> 1) ^ -(acc & 1), pos


def block_layout(data):
    """[(block start, data start, data end = sync start, record count)] of an Avro file."""
    assert data[:4] == b"Obj\x01"
    pos = 4
    while True:
        n, pos = read_long(data, pos)
        if n == 0:
            break
        if n < 0:
            n = -n
            _, pos = read_long(data, pos)
        for _ in range(n):
            ln, pos = read_long(data, pos)
            pos += ln
            ln, pos = read_long(data, pos)
            pos += ln
    pos += 16  # header sync marker
    blocks = []
    while pos < len(data):
        start = pos
        cnt, pos = read_long(data, pos)
        size, pos = read_long(data, pos)
        blocks.append((start, pos, pos + size, cnt))
        pos += size + 16
    return blocks


# --- minimal hand-written Avro encoder (null codec) for strings that are not valid UTF-8
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


def write_raw_avro(path, sch, records):
    import json
    marker = sync(os.path.basename(path))
    hdr = b"Obj\x01" + enc_long(2)
    hdr += enc_bytes(b"avro.schema") + enc_bytes(json.dumps(sch).encode())
    hdr += enc_bytes(b"avro.codec") + enc_bytes(b"null") + enc_long(0) + marker
    body = b""
    for r in records:
        for name, typ in V3_FIELDS:
            v = r[name]
            if typ == "string":
                body += enc_bytes(v if isinstance(v, bytes) else v.encode())
            else:
                body += enc_long(v)
    data = hdr + enc_long(len(records)) + enc_long(len(body)) + body + marker
    with open(path, "wb") as f:
        f.write(data)


# ---------------------------------------------------------------- expected outputs
CASES = []  # (expected file name, args after FILE)


def expect(stem, input_file, name_suffix, args, want_status=0):
    argv = [os.path.join(HERE, input_file)] + args.split()
    out, status, err = reference.run_capture(argv)
    assert status == want_status, (stem, args, status, err)
    name = "%s.%s.txt" % (stem, name_suffix)
    with open(os.path.join(EXP, name), "wb") as f:
        f.write(out)
    CASES.append((name, args))
    return out


def main():
    os.makedirs(EXP, exist_ok=True)
    for fn in os.listdir(EXP):
        os.remove(os.path.join(EXP, fn))
    os.chdir(HERE)
    small = small_records()
    assert len({r["time"] for r in small}) == len(TIMES)
    for codec in ("null", "deflate", "snappy"):
        write_avro("small-%s.avro" % codec, V3, small, codec, tag="small")
    old = [{k: v for k, v in r.items() if k not in OLD_MISSING} for r in small]
    write_avro("small-old.avro", OLD, old, "deflate", tag="small-old")
    raw = open("small-deflate.avro", "rb").read()
    with open("small-deflate.avro.gz", "wb") as f:
        f.write(gzip.compress(raw, 9, mtime=0))
    with open("small-deflate.avro.bz2", "wb") as f:
        f.write(bz2.compress(raw, 9))
    with open("small-deflate.avro.zst", "wb") as f:
        f.write(zstandard.ZstdCompressor(level=3).compress(raw))

    # error / edge fixtures
    r7 = random.Random(7)
    junk = bytes(r7.randrange(256) for _ in range(512))
    assert junk[:2] != b"\x1f\x8b" and junk[:3] != b"BZh" and junk[:4] not in (b"Obj\x01", b"\x28\xb5\x2f\xfd")
    with open("notavro.bin", "wb") as f:
        f.write(junk)
    open("empty.avro", "wb").close()
    few = [r for r in small if r["time"] == TIMES[1]][:5]
    nosrc = schema([f for f in V3_FIELDS if f[0] != "src_ip"])
    write_avro("wrongschema-missing-src_ip.avro", nosrc,
               [{k: v for k, v in r.items() if k != "src_ip"} for r in few], "deflate")
    strtime = schema([("time", "string")] + V3_FIELDS[1:])
    write_avro("wrongschema-type.avro", strtime, [dict(r, time=str(r["time"])) for r in few], "deflate")
    write_avro("norecords.avro", V3, [], "deflate")
    reap = []
    for i, t in enumerate([10, 10, 20, 20, 10]):
        reap.append(rec(t, "20.30.40.%d" % i, "44.0.0.%d" % i, 80, 443 + i, 6, 40, i + 1))
    write_avro("reappear.avro", V3, reap, "null", sync_interval=1 << 20)
    # prefix2asn beyond 32 bits (AS numbers are 32-bit): a data error.
    write_avro("badasn.avro", V3, [rec(10, "1.2.3.4", "44.0.0.1", 1, 80, 6, 40, 1, asn=1 << 32)],
               "null", sync_interval=1 << 20)
    groups = []
    for j, t in enumerate([100, 160, 220]):
        groups.append([rec(t, "20.30.40.%d" % (i + j), "44.0.0.%d" % i, 1000 + i, 80 + j, 6, 40,
                           i + 1, asn=64512 + i) for i in range(6)])
    write_blocks("complete3.avro.tmp", V3, groups)
    full = open("complete3.avro.tmp", "rb").read()
    os.remove("complete3.avro.tmp")
    blocks = block_layout(full)
    assert len(blocks) == 3 and blocks[-1][2] + 16 == len(full), blocks
    b3_start, b3_data, b3_end, _ = blocks[2]
    cut = b3_data + (b3_end - b3_data) // 2
    with open("truncated.avro", "wb") as f:
        f.write(full[:cut])
    bad = bytearray(full)
    sync2 = blocks[1][2]
    for i in range(sync2, sync2 + 16):
        bad[i] ^= 0xFF
    with open("badsync.avro", "wb") as f:
        f.write(bytes(bad))
    badutf = []
    for i, (cont, ctry) in enumerate([(b"EU", b"\xff\xfe"), (b"\xc3", b"DE"), (b"\xed\xa0\x80", b"\xe2\x82"),
                                      (b"EU", b"DE"), (b"NA", b"\xc3\xa9")]):
        r = rec(1700000000, "20.30.40.%d" % i, "44.0.0.%d" % i, 80, 443, 6, 40, i + 1, asn=i)
        r.update(netacq_continent=cont, netacq_country=ctry, maxmind_continent=ctry, maxmind_country=cont)
        badutf.append(r)
    write_raw_avro("badutf8.avro", V3, badutf)

    # ---- expected outputs
    for m in reference.MODES:
        expect("small", "small-null.avro", m, m)
    for m in ("unfiltered", "unfiltered-ipmeta"):
        expect("small-old", "small-old.avro", m, m)
    # prefixagg on unfiltered; sample on nonspoofed, whose interval 2 counts nothing
    # (the sample index must still advance there)
    for m, variant, opt in [("unfiltered", "src-prefixagg24", "--src-ip-counting prefixagg:24"),
                            ("unfiltered", "dst-prefixagg24", "--dst-ip-counting prefixagg:24"),
                            ("unfiltered", "src-prefixagg32", "--src-ip-counting prefixagg:32"),
                            ("unfiltered", "src-prefixagg1", "--src-ip-counting prefixagg:1"),
                            ("nonspoofed", "src-sample24", "--src-ip-counting sample:24"),
                            ("nonspoofed", "dst-sample30", "--dst-ip-counting sample:30"),
                            ("nonspoofed", "src-sample32", "--src-ip-counting sample:32"),
                            ("nonspoofed", "dst-sample1", "--dst-ip-counting sample:1")]:
        expect("small", "small-null.avro", m + "." + variant, m + " " + opt)
    expect("small", "small-null.avro", "unrouted-nonspoofed.src-sample24-dst-prefixagg1",
           "unrouted-nonspoofed --src-ip-counting sample:24 --dst-ip-counting prefixagg:1")
    expect("small", "small-null.avro", "unfiltered-ipmeta.src-sample30-dst-sample24",
           "unfiltered-ipmeta --src-ip-counting sample:30 --dst-ip-counting sample:24")
    for m in reference.MODES:
        expect("small", "small-null.avro", m + ".timeseries", m + " --format timeseries")
    expect("small", "small-null.avro", "unrouted-nonspoofed.timeseries-darknet",
           "unrouted-nonspoofed --format timeseries --label darknet")
    expect("small", "small-null.avro", "unfiltered-ipmeta.timeseries-geo-both",
           "unfiltered-ipmeta --format timeseries --geo both")
    expect("small", "small-null.avro", "nonspoofed.timeseries-geo-maxmind",
           "nonspoofed --format timeseries --geo maxmind")
    for m in ("unfiltered", "unfiltered-ipmeta"):
        expect("small", "small-null.avro", m + ".jsonl", m + " --format jsonl")
        expect("small", "small-null.avro", m + ".csv", m + " --format csv")
    expect("small", "small-null.avro", "nonspoofed.csv", "nonspoofed --format csv")
    for m in ("nonspoofed", "unfiltered-ipmeta"):
        expect("small", "small-null.avro", m + ".geo-maxmind", m + " --geo maxmind")
        expect("small", "small-null.avro", m + ".geo-both", m + " --geo both")
    for m in ("unfiltered", "nonspoofed"):
        expect("small", "small-null.avro", m + ".ports-tcpdst-udpsrc",
               m + " --tcp-dst-ports 0-1024,5000,8080-8081 --udp-src-ports 53")
        expect("small", "small-null.avro", m + ".ports-tcpsrc-udpdst",
               m + " --tcp-src-ports 1023-1024,65535 --udp-dst-ports 0,5000-8081")
    expect("norecords", "norecords.avro", "unfiltered", "unfiltered")
    expect("norecords", "norecords.avro", "unfiltered.csv", "unfiltered --format csv")
    expect("norecords", "norecords.avro", "nonspoofed.jsonl", "nonspoofed --format jsonl")
    expect("badutf8", "badutf8.avro", "unfiltered-ipmeta.geo-both", "unfiltered-ipmeta --geo both")
    expect("badutf8", "badutf8.avro", "unfiltered-ipmeta.timeseries-geo-both",
           "unfiltered-ipmeta --geo both --format timeseries")
    expect("reappear", "reappear.avro", "unfiltered", "unfiltered", want_status=1)
    expect("truncated", "truncated.avro", "unfiltered", "unfiltered", want_status=1)
    # fastavro yields block 2's records before it checks the sync marker that
    # follows them; flowtuple-series treats a block with a bad trailing marker
    # as corrupt and drops it. Without block 2 nothing shows that interval 100
    # ended, so it must not be printed: the expected stdout is empty.
    with open(os.path.join(EXP, "badsync.unfiltered.txt"), "wb") as f:
        f.write(b"")
    CASES.append(("badsync.unfiltered.txt", "unfiltered"))

    # independent-of-reader sanity: same output from every codec / wrapper / old schema
    for f in ("small-deflate.avro", "small-snappy.avro", "small-deflate.avro.gz",
              "small-deflate.avro.bz2", "small-deflate.avro.zst"):
        for m in reference.MODES:
            out, st, _ = reference.run_capture([f, m])
            assert st == 0 and out == open(os.path.join(EXP, "small.%s.txt" % m), "rb").read(), (f, m)
    for m in ("unfiltered", "unfiltered-ipmeta"):
        assert open(os.path.join(EXP, "small-old.%s.txt" % m), "rb").read() == \
            open(os.path.join(EXP, "small.%s.txt" % m), "rb").read()

    with open(os.path.join(EXP, "CASES.tsv"), "w") as f:
        for name, args in CASES:
            f.write("%s\t%s\n" % (name, args))
    with open(os.path.join(EXP, "INPUTS.tsv"), "w") as f:
        small_files = ["small-null.avro", "small-deflate.avro", "small-snappy.avro",
                       "small-deflate.avro.gz", "small-deflate.avro.bz2", "small-deflate.avro.zst"]
        rows = [("small", x, "0") for x in small_files] + [
            ("small-old", "small-old.avro", "0"), ("norecords", "norecords.avro", "0"),
            ("badutf8", "badutf8.avro", "0"), ("reappear", "reappear.avro", "nonzero"),
            ("truncated", "truncated.avro", "nonzero"), ("badsync", "badsync.avro", "nonzero")]
        for row in rows:
            f.write("\t".join(row) + "\n")
    # layout facts for README (error offsets)
    with open(os.path.join(HERE, "LAYOUT.txt"), "w") as f:
        f.write("complete3 (truncated.avro/badsync.avro before damage): %d bytes\n" % len(full))
        for i, (s, d, e, c) in enumerate(blocks):
            f.write("block %d: starts at %d, data %d..%d (%d bytes), %d records, sync marker at %d..%d\n"
                    % (i + 1, s, d, e, e - d, c, e, e + 16))
        f.write("truncated.avro: %d bytes, cut inside block 3 data (%d..%d), %d bytes missing\n"
                % (cut, b3_data, b3_end, len(full) - cut))
        f.write("badsync.avro: %d bytes, sync marker after block 2 at offset %d..%d inverted (xor 0xff)\n"
                % (len(bad), sync2, sync2 + 16))
        f.write("small-null.avro: %d blocks\n" % len(block_layout(open("small-null.avro", "rb").read())))
    print("records:", len(small), "cases:", len(CASES))


if __name__ == "__main__":
    main()
