#!/usr/bin/env python3
"""Second, differently-built check of the seed-format expected outputs (one-off).

reference.py streams records into dicts of sets.  This script instead loads every
record into an in-memory SQLite table and lets SQL do the grouping (GROUP BY,
COUNT(DISTINCT ...)), with the filters written as SQL predicates from the spec.
It then renders the seed lines and compares them with expected/small.<mode>.txt.

    python3 crosscheck.py        # prints OK lines, exits 1 on any difference
"""
import os
import sqlite3
import sys

import fastavro

HERE = os.path.dirname(os.path.abspath(__file__))

# Reserved source ranges written as literal integer bounds (not derived from reference.py).
UNROUTED_SQL = """(
    src_ip BETWEEN 0 AND 16777215                -- 0.0.0.0/8
 OR src_ip BETWEEN 167772160 AND 184549375       -- 10.0.0.0/8
 OR src_ip BETWEEN 2130706432 AND 2147483647     -- 127.0.0.0/8
 OR src_ip BETWEEN 2851995648 AND 2852061183     -- 169.254.0.0/16
 OR src_ip BETWEEN 2886729728 AND 2887778303     -- 172.16.0.0/12
 OR src_ip BETWEEN 3221225472 AND 3221225727     -- 192.0.0.0/24
 OR src_ip BETWEEN 3221225984 AND 3221226239     -- 192.0.2.0/24
 OR src_ip BETWEEN 3227017984 AND 3227018239     -- 192.88.99.0/24
 OR src_ip BETWEEN 3232235520 AND 3232301055     -- 192.168.0.0/16
 OR src_ip BETWEEN 3323068416 AND 3323199487     -- 198.18.0.0/15
 OR src_ip BETWEEN 3325256704 AND 3325256959     -- 198.51.100.0/24
 OR src_ip BETWEEN 3405803776 AND 3405804031     -- 203.0.113.0/24
 OR src_ip >= 3758096384)                        -- 224.0.0.0 and above
"""
NONSPOOFED_SQL = "(is_spoofed = 0 OR is_masscan = 1)"
POP_TCP = "(%s <> 0 AND (%s < 1024 OR %s IN (5000,5060,6881,8080,8081,8443)))"
POP_UDP = "(%s <> 0 AND (%s < 1024 OR %s IN (5060,8080,8081,8443)))"


def clean(s):
    if s == "" or any(ord(c) <= 32 or ord(c) == 127 for c in s):
        return "??"
    return s


def load(path):
    db = sqlite3.connect(":memory:")
    db.execute("""CREATE TABLE r (seq INTEGER, time INTEGER, src_ip INTEGER, dst_ip INTEGER,
        src_port INTEGER, dst_port INTEGER, protocol INTEGER, ip_len INTEGER,
        pk_hi INTEGER, pk_lo INTEGER, is_spoofed INTEGER, is_masscan INTEGER,
        na_cont TEXT, na_ctry TEXT, asn INTEGER, ordinal INTEGER)""")
    rows = []
    prev, ordinal = None, -1
    with open(path, "rb") as f:
        for i, r in enumerate(fastavro.reader(f)):
            if r["time"] != prev:
                ordinal += 1
                prev = r["time"]
            pc = r["packet_cnt"]
            rows.append((i, r["time"], r["src_ip"], r["dst_ip"], r["src_port"], r["dst_port"],
                         r["protocol"], r["ip_len"], pc >> 32, pc & 0xFFFFFFFF, r["is_spoofed"],
                         r["is_masscan"], clean(r["netacq_continent"]), clean(r["netacq_country"]),
                         r["prefix2asn"], ordinal))
    db.executemany("INSERT INTO r VALUES (%s)" % ",".join("?" * 16), rows)
    return db


def series(db, cls, key_sql, where, src="src_ip", dst="dst_ip", sort="k"):
    """Seed lines for one class, grouped by (interval, key); intervals in file order."""
    q = """SELECT time, %s AS k, SUM(pk_hi), SUM(pk_lo), SUM(pk_hi * ip_len), SUM(pk_lo * ip_len),
               COUNT(DISTINCT %s), COUNT(DISTINCT %s), COUNT(DISTINCT asn), MIN(ordinal)
           FROM r WHERE %s GROUP BY time, k""" % (key_sql, src, dst, where)
    out = {}
    for t, k, ph, pl, bh, bl, us, ud, ua, o in db.execute(q):
        out.setdefault(o, []).append((t, k, (ph << 32) + pl, (bh << 32) + bl, us, ud, ua))
    return out


def render(db, mode, src="src_ip", dst="dst_ip"):
    ordinals = [o for (o,) in db.execute("SELECT DISTINCT ordinal FROM r ORDER BY ordinal")]
    times = dict(db.execute("SELECT ordinal, MIN(time) FROM r GROUP BY ordinal"))
    if mode in ("unfiltered", "unfiltered-ipmeta"):
        base = "1"
    elif mode == "nonspoofed":
        base = NONSPOOFED_SQL
    else:
        base = NONSPOOFED_SQL + " AND " + UNROUTED_SQL
    tcp, udp = "protocol = 6", "protocol = 17"
    pop = mode == "nonspoofed"
    plan = {
        "summary": ("'overall'", base),
        "ipprotocol": ("protocol", base),
        "tcp_src_ports": ("src_port", base + " AND " + tcp + (" AND " + POP_TCP % (("src_port",) * 3) if pop else "")),
        "tcp_dst_ports": ("dst_port", base + " AND " + tcp + (" AND " + POP_TCP % (("dst_port",) * 3) if pop else "")),
        "udp_src_ports": ("src_port", base + " AND " + udp + (" AND " + POP_UDP % (("src_port",) * 3) if pop else "")),
        "udp_dst_ports": ("dst_port", base + " AND " + udp + (" AND " + POP_UDP % (("dst_port",) * 3) if pop else "")),
        "icmp": ("src_port * 65536 + dst_port", base + " AND protocol = 1"),
        "netacq_continents": ("na_cont", base),
        "netacq_countries": ("na_ctry", base),
        "asn": ("asn", base + " AND asn <> 0"),
    }
    order = {
        "unfiltered": ["summary", "ipprotocol", "tcp_src_ports", "tcp_dst_ports", "udp_src_ports",
                       "udp_dst_ports", "icmp"],
        "unfiltered-ipmeta": ["netacq_continents", "netacq_countries", "asn"],
        "nonspoofed": ["summary", "ipprotocol", "netacq_continents", "netacq_countries",
                       "tcp_src_ports", "tcp_dst_ports", "icmp", "udp_src_ports", "udp_dst_ports"],
        "unrouted-nonspoofed": ["summary", "ipprotocol"],
    }[mode]
    per_class = {c: series(db, c, plan[c][0], plan[c][1], src, dst) for c in order}
    lines = []
    for o in ordinals:
        for c in order:
            rows = per_class[c].get(o, [])
            if c == "summary" and not rows:
                rows = [(times[o], "overall", 0, 0, 0, 0, 0)]
            rows.sort(key=lambda x: x[1].encode() if isinstance(x[1], str) else x[1])
            for t, k, p, b, us, ud, ua in rows:
                kt = "%d:%d" % divmod(k, 65536) if c == "icmp" else str(k)
                for name, v in zip(("packets", "bytes", "uniq_src_ips", "uniq_dst_ips", "uniq_src_asns"),
                                   (p, b, us, ud, ua)):
                    lines.append("%d %s %s %s %d\n" % (t, c, kt, name, v))
    return "".join(lines)


def main():
    db = load(os.path.join(HERE, "small-null.avro"))
    bad = 0
    checks = [(m, m, "src_ip", "dst_ip") for m in
              ("unfiltered", "unfiltered-ipmeta", "nonspoofed", "unrouted-nonspoofed")]
    checks += [
        ("unfiltered.src-prefixagg24", "unfiltered", "src_ip / 256", "dst_ip"),
        ("unfiltered.src-prefixagg1", "unfiltered", "src_ip / 2147483648", "dst_ip"),
        ("nonspoofed.src-sample24", "nonspoofed",
         "CASE WHEN src_ip % 256 = (time / 60) % 256 THEN src_ip END", "dst_ip"),
        ("nonspoofed.dst-sample1", "nonspoofed", "src_ip",
         "CASE WHEN dst_ip % 2147483648 = (time / 60) % 2147483648 THEN dst_ip END"),
    ]
    for name, mode, src, dst in checks:
        got = render(db, mode, src, dst)
        want = open(os.path.join(HERE, "expected", "small.%s.txt" % name), encoding="utf-8").read()
        if got == want:
            print("OK   small.%s.txt (%d lines)" % (name, want.count("\n")))
        else:
            bad += 1
            print("DIFF small.%s.txt" % name)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
