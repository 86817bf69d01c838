#!/usr/bin/env python3
"""Fixtures and expected outputs for issue 9 (sample index from the time,
--compat report, --merge-repeated). Run once; the Rust tests never run Python.

    cd testdata/flowtuple && python3 make_report_fixtures.py

Expected outputs come from reference.py (extended from the issue's text, not
from the Rust code). REPORT.tsv lists the cases: expected file, exit status
(0 or nonzero), arguments; an argument `@name` is the fixture `name`.
Deterministic: fixed sync markers, fixed records.
"""
import os
import subprocess
import sys

sys.modules.setdefault("zstandard", type(sys)("zstandard"))  # make_fixtures imports it; unused here
import make_fixtures as mf  # noqa: E402
from make_fixtures import V3, rec, write_avro, write_blocks  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
EXP = os.path.join(HERE, "expected")


def minutes():
    """One-interval files at consecutive minutes whose /24 sample index is
    253, 254, 255 and (the wrap) 0; each holds sources with host parts 0, 1,
    2, 253, 254 and 255, host h in 1 + h % 3 /24s and to port 1000 + h, so
    that which hosts were sampled shows."""
    base = 256 * 1000 * 60  # index 0 at /24
    files = []
    for k, idx in enumerate([253, 254, 255, 0]):
        t = base + (253 + k) * 60 + (7 if k == 1 else 0)  # not aligned: still minute 254
        recs = []
        for h in (0, 1, 2, 253, 254, 255):
            # host h in 1 + h % 3 of the /24s, to destination port 1000 + h:
            # which host was sampled shows in the counts and the port key.
            for net in ("10.0.0.", "10.0.1.", "10.0.2.")[:1 + h % 3]:
                recs.append(rec(t, net + str(h), "44.0.0.%d" % h, 1234, 1000 + h, 6, 40, 1, asn=64500 + h))
        name = "minute%d.avro" % k
        write_avro(os.path.join(HERE, name), V3, recs)
        files.append(name)
    # the four minutes in one file
    allrecs = []
    for name in files:
        import fastavro
        with open(os.path.join(HERE, name), "rb") as f:
            allrecs += list(fastavro.reader(f))
    write_avro(os.path.join(HERE, "minutes.avro"), V3, allrecs, sync_interval=300)
    return files


T1, T2, T3 = 1700000040, 1700000100, 1700000160  # /30 sample index 2, 3, 0


def report_records():
    r = []
    # interval 1
    r.append(rec(T1, "1.1.1.1", "44.0.0.1", 80, 23, 6, 40, 2, na=("EU", "FR"), mm=("??", "??"), asn=0))
    r.append(rec(T1, "1.1.1.1", "44.0.0.2", 80, 23, 6, 40, 1, na=("EU", "FR"), mm=("EU", "FR"), asn=100))
    r.append(rec(T1, "1.1.1.2", "44.0.0.3", 81, 25, 6, 60, 3, na=("AS", "FR"), mm=("EU", "GB"), asn=200))
    r.append(rec(T1, "1.1.1.3", "44.0.0.4", 80, 8080, 6, 40, 1, na=("??", "AP"), mm=("AS", "AP"), asn=300))
    r.append(rec(T1, "1.1.1.4", "44.0.0.5", 80, 23, 6, 40, 1, na=("NA", "XK"), mm=("NA", "US"), asn=0))
    r.append(rec(T1, "1.1.2.9", "44.0.0.6", 5000, 22, 6, 40, 1, na=("EU", "A1"), mm=("", "A2"), asn=400))
    r.append(rec(T1, "1.1.2.10", "44.0.0.7", 5000, 22, 6, 40, 1, na=("", "O1"), mm=("OC", "AU"), asn=400))
    r.append(rec(T1, "2.2.2.2", "44.0.0.8", 8, 0, 1, 84, 1, na=("SA", "BR"), mm=("SA", "BR"), asn=500))
    r.append(rec(T1, "3.3.3.3", "44.0.0.9", 53, 53, 17, 76, 5, spoof=1, na=("AF", "ZA"), mm=("AF", "EG"), asn=600))
    r.append(rec(T1, "3.3.3.6", "44.0.0.9", 53, 53, 17, 76, 1, na=("AF", "EG"), mm=("AF", "EG"), asn=600))
    # interval 2: source aggregates whose first record has ASN 0
    r.append(rec(T2, "5.5.5.1", "44.0.1.1", 80, 8080, 6, 40, 1, na=("EU", "DE"), mm=("EU", "DE"), asn=0))
    r.append(rec(T2, "5.5.5.2", "44.0.1.2", 80, 8080, 6, 40, 1, na=("EU", "DE"), mm=("EU", "DE"), asn=700))
    r.append(rec(T2, "5.5.5.3", "44.0.1.3", 81, 22, 6, 40, 1, na=("EU", "DE"), mm=("EU", "DE"), asn=701))
    r.append(rec(T2, "6.6.6.1", "44.0.1.4", 80, 23, 6, 40, 1, na=("NA", "US"), mm=("NA", "US"), asn=800))
    r.append(rec(T2, "6.6.6.2", "44.0.1.5", 80, 23, 6, 40, 1, na=("NA", "US"), mm=("NA", "US"), asn=900))
    r.append(rec(T2, "6.6.6.3", "44.0.1.6", 0, 0, 47, 40, 1, na=("EU", "FR"), mm=("EU", "FR"), asn=900))
    # interval 3: one UDP record; earlier keys carry as zeros
    r.append(rec(T3, "7.7.7.4", "44.0.2.1", 53, 53, 17, 76, 1, na=("AS", "JP"), mm=("AS", "JP"), asn=1000))
    return r


def repeated():
    """Timestamps in runs: 100 in three runs, 200 in two, 300 in one; the
    runs cross block boundaries. Then two 'per-thread' files sharing times."""
    def run(t, srcs, asn0=0):
        return [rec(t, "9.9.%d.%d" % (s // 256, s % 256), "44.0.0.%d" % (s % 7), 80 + s % 3, 23 + s % 2,
                    6 if s % 4 else 17, 40 + s, 1 + s % 5, na=("EU", "FR") if s % 2 else ("NA", "US"),
                    asn=(asn0 if i == 0 else 64500 + s % 4)) for i, s in enumerate(srcs)]
    groups = [
        run(100, [1, 2, 3]) + run(200, [4, 5]),
        run(200, [6]) + run(100, [2, 7, 8, 300]),
        run(300, [9, 10]) + run(200, [4, 11]),
        run(100, [301, 12], asn0=7),
    ]
    write_blocks(os.path.join(HERE, "repeated.avro"), V3, groups, codec="null")
    write_avro(os.path.join(HERE, "thread-a.avro"), V3, run(100, [1, 2]) + run(160, [3]))
    write_avro(os.path.join(HERE, "thread-b.avro"), V3, run(160, [3, 4, 260]) + run(100, [5]) + run(40, [6]))


def cutoff():
    """Three intervals in three blocks, the file cut inside block 3: interval
    200 is read whole but never printed (nothing shows it ended), and its keys
    (ASN 99999, ICMP 13:0) occur nowhere else."""
    groups = [
        [rec(100, "8.8.8.1", "44.0.0.1", 80, 23, 6, 40, 1, na=("EU", "FR"), mm=("EU", "FR"), asn=64500)],
        [rec(200, "8.8.8.2", "44.0.0.2", 7777, 7777, 6, 40, 1, na=("AS", "JP"), mm=("AS", "JP"), asn=99999),
         rec(200, "8.8.8.2", "44.0.0.2", 13, 0, 1, 40, 1, na=("AS", "JP"), mm=("AS", "JP"), asn=99999)],
        [rec(300, "8.8.8.3", "44.0.0.3", 80, 23, 6, 40, 1, na=("EU", "FR"), mm=("EU", "FR"), asn=64500)] * 20,
    ]
    path = os.path.join(HERE, "cutoff.avro")
    write_blocks(path, V3, groups, codec="null")
    with open(path, "rb") as f:
        data = f.read()
    with open(path, "wb") as f:
        f.write(data[:-200])


PORTS = "--tcp-src-ports 80-81 --tcp-dst-ports 20-25,8080 --udp-src-ports 53 --udp-dst-ports 53"

CASES = [
    # (expected, args); FILE tokens are @fixtures
    ("minutes.unfiltered.src-sample24.txt",
     "--mode unfiltered --src-ip-counting sample:24 @minute2.avro @minute0.avro @minute3.avro @minute1.avro"),
    ("minutes.unfiltered.src-sample24-one-file.txt", "@minutes.avro unfiltered --src-ip-counting sample:24"),
    ("minutes.unfiltered.dst-sample24-report.txt",
     "--mode unfiltered --compat report --dst-ip-counting sample:24 " + PORTS +
     " @minute3.avro @minute2.avro"),
    ("minutes.unfiltered.src-sample30-length120.txt",
     "@minutes.avro unfiltered --src-ip-counting sample:30 --interval-length 120"),
    ("report.unfiltered.report-ports.txt", "@report.avro unfiltered --compat report " + PORTS),
    ("report.unfiltered.report-ports-prefixagg24.txt",
     "@report.avro unfiltered --compat report --src-ip-counting prefixagg:24 " + PORTS),
    ("report.unfiltered-ipmeta.report-geo-both.txt", "@report.avro unfiltered-ipmeta --compat report --geo both"),
    ("report.unfiltered-ipmeta.report-prefixagg24.txt",
     "@report.avro unfiltered-ipmeta --compat report --src-ip-counting prefixagg:24 --geo maxmind"),
    ("report.unfiltered-ipmeta.report-sample30.timeseries.txt",
     "@report.avro unfiltered-ipmeta --compat report --src-ip-counting sample:30 --format timeseries"),
    ("report.nonspoofed.report.csv.txt", "@report.avro nonspoofed --compat report --format csv"),
    ("report.nonspoofed.report-timeseries-label.txt",
     "@report.avro nonspoofed --compat report --format timeseries --label darknet " + PORTS),
    ("report.unfiltered-ipmeta.script.txt", "@report.avro unfiltered-ipmeta --geo both"),
    ("report.unrouted-nonspoofed.report.txt", "@report.avro unrouted-nonspoofed --compat report"),
    ("report.unfiltered-ipmeta.report-carried.txt",
     "--mode unfiltered-ipmeta --compat report --geo maxmind @report.avro @truncated.avro @minute0.avro"),
    ("cutoff.unfiltered.report-carried.txt",
     "--mode unfiltered --compat report " + PORTS + " @cutoff.avro @minute0.avro"),
    ("cutoff.unfiltered-ipmeta.report-carried.txt",
     "--mode unfiltered-ipmeta --compat report @minute0.avro @cutoff.avro @minute1.avro"),
    ("repeated.unfiltered.merge.txt", "@repeated.avro unfiltered --merge-repeated"),
    ("repeated.unfiltered-ipmeta.merge-report-prefixagg24.txt",
     "@repeated.avro unfiltered-ipmeta --merge-repeated --compat report --src-ip-counting prefixagg:24"),
    ("repeated.unfiltered.merge-files.txt",
     "--mode unfiltered --merge-repeated @thread-a.avro @truncated.avro @thread-b.avro @repeated.avro"),
    ("repeated.unfiltered.merge-files-report.txt",
     "--mode unfiltered --merge-repeated --compat report " + PORTS + " @thread-b.avro @thread-a.avro"),
]


def reference_argv(args):
    """The tool's arguments -> reference.py's (FILE MODE ... --also FILE)."""
    toks = args.split(" ")
    files = [t[1:] for t in toks if t.startswith("@")]
    rest = [t for t in toks if not t.startswith("@")]
    if "--mode" in rest:
        i = rest.index("--mode")
        mode = rest[i + 1]
        rest = rest[:i] + rest[i + 2:]
    else:
        mode, rest = rest[0], rest[1:]
    argv = [files[0], mode] + rest
    for f in files[1:]:
        argv += ["--also", f]
    return argv


def main():
    os.chdir(HERE)
    minutes()
    write_avro(os.path.join(HERE, "report.avro"), V3, report_records(), sync_interval=400)
    repeated()
    cutoff()
    lines = []
    for name, args in CASES:
        r = subprocess.run([sys.executable, "reference.py"] + reference_argv(args), capture_output=True)
        with open(os.path.join(EXP, name), "wb") as f:
            f.write(r.stdout)
        status = "0" if r.returncode == 0 else "nonzero"
        lines.append("%s\t%s\t%s\n" % (name, status, args))
        print(name, status, len(r.stdout), r.stderr.decode()[:200])
    with open(os.path.join(EXP, "REPORT.tsv"), "w") as f:
        f.writelines(lines)


if __name__ == "__main__":
    _ = mf
    main()
