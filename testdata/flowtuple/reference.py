#!/usr/bin/env python3
"""Independent reference implementation of `flowtuple-series` (one-off, for test data).

Written from the specification (issues 2 and 4) only, without looking at the Rust
code.  It favours obviously-correct over clever: plain dicts and sets, Python big
ints for the sums.  The Rust project never needs this script to build or test;
it is kept so that anyone can regenerate / re-check the expected outputs.

    python3 reference.py FILE MODE [--src-ip-counting M] [--dst-ip-counting M]
        [--format seed|timeseries|jsonl|csv] [--label L] [--geo netacq|maxmind|both]
        [--tcp-src-ports R] [--tcp-dst-ports R] [--udp-src-ports R] [--udp-dst-ports R]

Requires: pip install fastavro zstandard cramjam   (cramjam only for snappy files)

Issue 9 added (written from the issue text, not from the Rust code):
--interval-length L (sample index = (time // L) mod 2^(32-N)), --compat
script|report (report: ASN 0 never counted; `all`: distinct non-zero ASNs;
`sample`: those of records whose source is sampled; `prefixagg`: the ASN of
the first record of each (series, aggregate); `??` geo tags make no key;
countries keyed under libipmeta's continent, missing ones make no key;
dense keys and keys carried from earlier printed intervals; label
`unlabeled`), --merge-repeated, and --also FILE (more files, in order).

Errors are not emulated precisely: on an input error the intervals already
complete have been printed, a message goes to stderr and the exit status is 1.
"""
import argparse
import bz2
import gzip
import io
import json
import sys

import fastavro

MODES = ("unfiltered", "unfiltered-ipmeta", "nonspoofed", "unrouted-nonspoofed")

# (network, prefix length) of the "unrouted" source ranges; plus >= 224.0.0.0
RESERVED = [
    ("0.0.0.0", 8), ("10.0.0.0", 8), ("127.0.0.0", 8), ("169.254.0.0", 16),
    ("172.16.0.0", 12), ("192.0.0.0", 24), ("192.0.2.0", 24), ("192.88.99.0", 24),
    ("192.168.0.0", 16), ("198.18.0.0", 15), ("198.51.100.0", 24), ("203.0.113.0", 24),
]


def ip_to_int(s):
    a, b, c, d = (int(x) for x in s.split("."))
    return (a << 24) | (b << 16) | (c << 8) | d


RESERVED_INT = [(ip_to_int(net), ip_to_int(net) + (1 << (32 - plen)) - 1) for net, plen in RESERVED]
MULTICAST_AND_ABOVE = ip_to_int("224.0.0.0")


def is_unrouted(ip):
    if ip >= MULTICAST_AND_ABOVE:
        return True
    for lo, hi in RESERVED_INT:
        if lo <= ip <= hi:
            return True
    return False


def is_nonspoofed(rec):
    return rec["is_spoofed"] == 0 or rec["is_masscan"] == 1


TCP_POPULAR_HIGH = {5000, 5060, 6881, 8080, 8081, 8443}
UDP_POPULAR_HIGH = {5060, 8080, 8081, 8443}


def popular(port, proto):
    if port == 0:
        return False
    if port < 1024:
        return True
    return port in (TCP_POPULAR_HIGH if proto == 6 else UDP_POPULAR_HIGH)


def sanitize(s):
    """Geo string as printed/aggregated: '??' if empty, has a byte <= 0x20 or 0x7F,
    or is not valid UTF-8 (read with surrogateescape, so invalid bytes appear as
    lone surrogates, which fail the strict encode)."""
    if s == "":
        return "??"
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        return "??"
    for ch in s:
        o = ord(ch)
        if o <= 0x20 or o == 0x7F:
            return "??"
    return s


def parse_ports(text):
    """'0-1024,5000,8080-8081' -> set of ports (inclusive ranges)."""
    out = set()
    for part in text.split(","):
        if "-" in part:
            a, b = part.split("-")
            a, b = int(a), int(b)
            if not (0 <= a <= b <= 65535):
                raise ValueError("bad port range %r" % part)
            out.update(range(a, b + 1))
        else:
            p = int(part)
            if not 0 <= p <= 65535:
                raise ValueError("bad port %r" % part)
            out.add(p)
    return out


def parse_counting(text):
    """Returns (kind, N)."""
    if text == "all":
        return ("all", 32)
    kind, _, n = text.partition(":")
    n = int(n)
    if kind not in ("prefixagg", "sample") or not 1 <= n <= 32:
        raise ValueError("bad ip counting method %r" % text)
    return (kind, n)


# libipmeta's country -> continent table (MaxMind legacy list), from the arrays
# country_code_iso2 / country_continent of lib/providers/ipmeta_provider_maxmind.c,
# CAIDA/libipmeta commit e84853e5b991c98a6160895e2f2c07c8011c3e3f.
COUNTRY_CONTINENT = {
    "??": "??", "AP": "AS", "EU": "EU", "AD": "EU", "AE": "AS", "AF": "AS", "AG": "NA",
    "AI": "NA", "AL": "EU", "AM": "AS", "CW": "NA", "AO": "AF", "AQ": "AN", "AR": "SA",
    "AS": "OC", "AT": "EU", "AU": "OC", "AW": "NA", "AZ": "AS", "BA": "EU", "BB": "NA",
    "BD": "AS", "BE": "EU", "BF": "AF", "BG": "EU", "BH": "AS", "BI": "AF", "BJ": "AF",
    "BM": "NA", "BN": "AS", "BO": "SA", "BR": "SA", "BS": "NA", "BT": "AS", "BV": "AN",
    "BW": "AF", "BY": "EU", "BZ": "NA", "CA": "NA", "CC": "AS", "CD": "AF", "CF": "AF",
    "CG": "AF", "CH": "EU", "CI": "AF", "CK": "OC", "CL": "SA", "CM": "AF", "CN": "AS",
    "CO": "SA", "CR": "NA", "CU": "NA", "CV": "AF", "CX": "AS", "CY": "AS", "CZ": "EU",
    "DE": "EU", "DJ": "AF", "DK": "EU", "DM": "NA", "DO": "NA", "DZ": "AF", "EC": "SA",
    "EE": "EU", "EG": "AF", "EH": "AF", "ER": "AF", "ES": "EU", "ET": "AF", "FI": "EU",
    "FJ": "OC", "FK": "SA", "FM": "OC", "FO": "EU", "FR": "EU", "SX": "NA", "GA": "AF",
    "GB": "EU", "GD": "NA", "GE": "AS", "GF": "SA", "GH": "AF", "GI": "EU", "GL": "NA",
    "GM": "AF", "GN": "AF", "GP": "NA", "GQ": "AF", "GR": "EU", "GS": "AN", "GT": "NA",
    "GU": "OC", "GW": "AF", "GY": "SA", "HK": "AS", "HM": "AN", "HN": "NA", "HR": "EU",
    "HT": "NA", "HU": "EU", "ID": "AS", "IE": "EU", "IL": "AS", "IN": "AS", "IO": "AS",
    "IQ": "AS", "IR": "AS", "IS": "EU", "IT": "EU", "JM": "NA", "JO": "AS", "JP": "AS",
    "KE": "AF", "KG": "AS", "KH": "AS", "KI": "OC", "KM": "AF", "KN": "NA", "KP": "AS",
    "KR": "AS", "KW": "AS", "KY": "NA", "KZ": "AS", "LA": "AS", "LB": "AS", "LC": "NA",
    "LI": "EU", "LK": "AS", "LR": "AF", "LS": "AF", "LT": "EU", "LU": "EU", "LV": "EU",
    "LY": "AF", "MA": "AF", "MC": "EU", "MD": "EU", "MG": "AF", "MH": "OC", "MK": "EU",
    "ML": "AF", "MM": "AS", "MN": "AS", "MO": "AS", "MP": "OC", "MQ": "NA", "MR": "AF",
    "MS": "NA", "MT": "EU", "MU": "AF", "MV": "AS", "MW": "AF", "MX": "NA", "MY": "AS",
    "MZ": "AF", "NA": "AF", "NC": "OC", "NE": "AF", "NF": "OC", "NG": "AF", "NI": "NA",
    "NL": "EU", "NO": "EU", "NP": "AS", "NR": "OC", "NU": "OC", "NZ": "OC", "OM": "AS",
    "PA": "NA", "PE": "SA", "PF": "OC", "PG": "OC", "PH": "AS", "PK": "AS", "PL": "EU",
    "PM": "NA", "PN": "OC", "PR": "NA", "PS": "AS", "PT": "EU", "PW": "OC", "PY": "SA",
    "QA": "AS", "RE": "AF", "RO": "EU", "RU": "EU", "RW": "AF", "SA": "AS", "SB": "OC",
    "SC": "AF", "SD": "AF", "SE": "EU", "SG": "AS", "SH": "AF", "SI": "EU", "SJ": "EU",
    "SK": "EU", "SL": "AF", "SM": "EU", "SN": "AF", "SO": "AF", "SR": "SA", "ST": "AF",
    "SV": "NA", "SY": "AS", "SZ": "AF", "TC": "NA", "TD": "AF", "TF": "AN", "TG": "AF",
    "TH": "AS", "TJ": "AS", "TK": "OC", "TM": "AS", "TN": "AF", "TO": "OC", "TL": "AS",
    "TR": "EU", "TT": "NA", "TV": "OC", "TW": "AS", "TZ": "AF", "UA": "EU", "UG": "AF",
    "UM": "OC", "US": "NA", "UY": "SA", "UZ": "AS", "VA": "EU", "VC": "NA", "VE": "SA",
    "VG": "NA", "VI": "NA", "VN": "AS", "VU": "OC", "WF": "OC", "WS": "OC", "YE": "AS",
    "YT": "AF", "RS": "EU", "ZA": "AF", "ZM": "AF", "ME": "EU", "ZW": "AF", "A1": "??",
    "A2": "??", "O1": "??", "AX": "EU", "GG": "EU", "IM": "EU", "JE": "EU", "BL": "NA",
    "MF": "NA", "BQ": "NA", "SS": "AF", "AN": "NA",
}
CONTINENTS = ["??", "AF", "AN", "AS", "EU", "NA", "OC", "SA"]


def make_ip_mapper(method, index):
    """Function ip -> value to put in the distinct set, or None (not counted)."""
    kind, n = method
    if kind == "all":
        return lambda ip: ip
    if kind == "prefixagg":
        shift = 32 - n
        return lambda ip: ip >> shift
    mask = (1 << (32 - n)) - 1
    idx = index % (1 << (32 - n))
    return lambda ip: ip if (ip & mask) == idx else None


def classes_for(mode, geo):
    geo_classes = {
        "netacq": ["netacq_continents", "netacq_countries"],
        "maxmind": ["maxmind_continents", "maxmind_countries"],
        "both": ["netacq_continents", "netacq_countries", "maxmind_continents", "maxmind_countries"],
    }[geo]
    if mode == "unfiltered":
        return ["summary", "ipprotocol", "tcp_src_ports", "tcp_dst_ports",
                "udp_src_ports", "udp_dst_ports", "icmp"]
    if mode == "unfiltered-ipmeta":
        return geo_classes + ["asn"]
    if mode == "nonspoofed":
        return ["summary", "ipprotocol"] + geo_classes + [
            "tcp_src_ports", "tcp_dst_ports", "icmp", "udp_src_ports", "udp_dst_ports"]
    if mode == "unrouted-nonspoofed":
        return ["summary", "ipprotocol"]
    raise ValueError(mode)


def open_input(path):
    """Binary file object with gzip/bzip2/zstd unwrapped (by magic bytes)."""
    if path == "-":
        raw = sys.stdin.buffer.read()
    else:
        with open(path, "rb") as f:
            raw = f.read()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    elif raw[:3] == b"BZh":
        raw = bz2.decompress(raw)
    elif raw[:4] == b"\x28\xb5\x2f\xfd":
        import zstandard
        raw = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(raw)).read()
    return io.BytesIO(raw)


class Cell:
    __slots__ = ("packets", "bytes", "src", "dst", "asns", "first_asn")

    def __init__(self):
        self.packets = 0
        self.bytes = 0
        self.src = set()
        self.dst = set()
        self.asns = set()
        self.first_asn = {}  # report + prefixagg: aggregate -> ASN of its first record

    def counters(self):
        asns = len(self.asns) + len(set(a for a in self.first_asn.values() if a != 0))
        return [self.packets, self.bytes, len(self.src), len(self.dst), asns]


def sort_keys(cls, keys):
    if cls in ("netacq_continents", "netacq_countries", "maxmind_continents", "maxmind_countries"):
        return sorted(keys, key=lambda s: s.encode("utf-8"))
    return sorted(keys)  # ints, or (type, code) tuples for icmp, or 'overall'


def key_text(cls, key):
    if cls == "icmp":
        return "%d:%d" % key
    return str(key)


SEED_COUNTERS = ["packets", "bytes", "uniq_src_ips", "uniq_dst_ips", "uniq_src_asns"]


def ts_path(cls, key, continent_of):
    if cls == "summary":
        return "overall"
    if cls == "ipprotocol":
        return "traffic.protocol.%d" % key
    if cls == "icmp":
        return "traffic.icmp.type.%d.code.%d" % key
    if cls in ("tcp_src_ports", "tcp_dst_ports", "udp_src_ports", "udp_dst_ports"):
        proto, direction, _ = cls.split("_")
        return "traffic.port.%s.%s_port.%d" % (proto, direction, key)
    if cls == "netacq_continents":
        return "geo.netacuity.%s" % key
    if cls == "netacq_countries":
        return "geo.netacuity.%s.%s" % (continent_of[key], key)
    if cls == "maxmind_continents":
        return "geo.maxmind.%s" % key
    if cls == "maxmind_countries":
        return "geo.maxmind.%s.%s" % (continent_of[key], key)
    if cls == "asn":
        return "routing.asn.%d" % key
    raise ValueError(cls)


def csv_field(s):
    if any(c in s for c in ',"\r\n'):
        return '"' + s.replace('"', '""') + '"'
    return s


class Emitter:
    def __init__(self, fmt, label, out):
        self.fmt = fmt
        self.label = label
        self.out = out
        if fmt == "csv":
            out.write("time,class,key,packets,bytes,uniq_src_ips,uniq_dst_ips,uniq_src_asns\n")

    def emit(self, t, cls, key, counters, continent_of):
        w = self.out.write
        if self.fmt == "seed":
            kt = key_text(cls, key)
            for name, v in zip(SEED_COUNTERS, counters):
                w("%d %s %s %s %d\n" % (t, cls, kt, name, v))
        elif self.fmt == "timeseries":
            p, b, us, ud, ua = counters
            base = "%s.%s." % (self.label, ts_path(cls, key, continent_of))
            items = [("uniq_src_ip", us), ("uniq_dst_ip", ud)]
            if cls != "asn":
                items.append(("uniq_src_asn", ua))
            items += [("pkt_cnt", p), ("ip_len", b)]
            for name, v in items:
                w("%s%s %d %d\n" % (base, name, v, t))
        elif self.fmt == "jsonl":
            obj = {"time": t, "class": cls, "key": key_text(cls, key)}
            for name, v in zip(SEED_COUNTERS, counters):
                obj[name] = v
            w(json.dumps(obj, separators=(",", ":"), ensure_ascii=False) + "\n")
        elif self.fmt == "csv":
            w(",".join([str(t), cls, csv_field(key_text(cls, key))] + [str(v) for v in counters]) + "\n")
        else:
            raise ValueError(self.fmt)


class Interval:
    def __init__(self, t, index, classes, src_method, dst_method, report):
        self.t = t
        self.classes = classes
        self.cells = {c: {} for c in classes}
        self.continent_of = {c: {} for c in classes}  # for *_countries: country -> continent
        self.map_src = make_ip_mapper(src_method, index)
        self.map_dst = make_ip_mapper(dst_method, index)
        self.report = report
        self.src_kind = src_method[0]

    def add(self, cls, key, rec, s, d):
        if self.report:
            return self.add_report(cls, key, rec, s, d)
        cells = self.cells[cls]
        cell = cells.get(key)
        if cell is None:
            cell = cells[key] = Cell()
        cell.packets += rec["packet_cnt"]
        cell.bytes += rec["packet_cnt"] * rec["ip_len"]
        if s is not None:
            cell.src.add(s)
        if d is not None:
            cell.dst.add(d)
        cell.asns.add(rec["prefix2asn"])

    def add_report(self, cls, key, rec, s, d):
        cells = self.cells[cls]
        cell = cells.get(key)
        if cell is None:
            cell = cells[key] = Cell()
        cell.packets += rec["packet_cnt"]
        cell.bytes += rec["packet_cnt"] * rec["ip_len"]
        if d is not None:
            cell.dst.add(d)
        asn = rec["prefix2asn"]
        if s is not None:
            cell.src.add(s)
            if self.src_kind == "prefixagg":
                cell.first_asn.setdefault(s, asn)
            elif asn != 0:
                cell.asns.add(asn)

    def emit(self, emitter, dense=None):
        for cls in self.classes:
            cells = self.cells[cls]
            if cls == "summary" and "overall" not in cells:
                cells["overall"] = Cell()
            keys = set(cells.keys())
            if dense is not None:
                keys |= dense.keys_of(cls)
                dense.carried[cls] |= set(cells.keys())
            for key in sort_keys(cls, keys):
                counters = cells[key].counters() if key in cells else [0, 0, 0, 0, 0]
                cont = self.continent_of[cls]
                if dense is not None and cls.endswith("_countries"):
                    cont = COUNTRY_CONTINENT
                emitter.emit(self.t, cls, key, counters, cont)


class Dense:
    """Report rules: keys pre-created per class, plus keys printed before."""

    def __init__(self, classes, mode, ranges):
        self.pre = {}
        self.carried = {c: set() for c in classes}
        for cls in classes:
            keys = set()
            if cls == "ipprotocol":
                keys = set(range(256))
            elif cls in ("tcp_src_ports", "tcp_dst_ports", "udp_src_ports", "udp_dst_ports"):
                proto = 6 if cls.startswith("tcp") else 17
                keys = set(p for p in range(65536)
                           if (mode != "nonspoofed" or popular(p, proto))
                           and (cls not in ranges or p in ranges[cls]))
            elif cls.endswith("_continents"):
                keys = set(CONTINENTS)
            elif cls.endswith("_countries"):
                keys = set(COUNTRY_CONTINENT)
            self.pre[cls] = keys

    def keys_of(self, cls):
        return self.pre[cls] | self.carried[cls]


def run(args, out):
    mode = args.mode
    classes = classes_for(mode, args.geo)
    src_method = parse_counting(args.src_ip_counting)
    dst_method = parse_counting(args.dst_ip_counting)
    ranges = {}
    for cls, opt in (("tcp_src_ports", args.tcp_src_ports), ("tcp_dst_ports", args.tcp_dst_ports),
                     ("udp_src_ports", args.udp_src_ports), ("udp_dst_ports", args.udp_dst_ports)):
        if opt is not None:
            ranges[cls] = parse_ports(opt)
    emitter = Emitter(args.format, args.label, out)
    popular_only = mode == "nonspoofed"
    geo_fields = []  # (continent class, country class, continent field, country field)
    has_geo = mode in ("unfiltered-ipmeta", "nonspoofed")
    if has_geo and args.geo in ("netacq", "both"):
        geo_fields.append(("netacq_continents", "netacq_countries", "netacq_continent", "netacq_country"))
    if has_geo and args.geo in ("maxmind", "both"):
        geo_fields.append(("maxmind_continents", "maxmind_countries", "maxmind_continent", "maxmind_country"))
    want = set(classes)

    report = args.compat == "report"
    dense = Dense(classes, mode, ranges) if report else None
    length = args.interval_length

    def new_interval(t):
        return Interval(t, t // length, classes, src_method, dst_method, report)

    add_record = add_record_factory(mode, want, ranges, popular_only, geo_fields, report)

    def run_file(path):
        rd = fastavro.reader(open_input(path), handle_unicode_errors="surrogateescape")
        cur = None
        seen_times = set()
        for rec in rd:
            t = rec["time"]
            if cur is None or t != cur.t:
                if cur is not None:
                    cur.emit(emitter, dense)
                    seen_times.add(cur.t)
                if t in seen_times:
                    raise RuntimeError("interval %d reappears after it was printed" % t)
                cur = new_interval(t)
            add_record(cur, rec)
        if cur is not None:
            cur.emit(emitter, dense)

    files = [args.file] + (args.also or [])
    errors = []
    if args.merge_repeated:
        intervals = {}
        for path in files:
            try:  # read the whole file first: a bad file leaves nothing behind
                recs = list(fastavro.reader(open_input(path), handle_unicode_errors="surrogateescape"))
            except Exception as e:
                errors.append("%s: %s: %s" % (path, type(e).__name__, e))
                continue
            for rec in recs:
                t = rec["time"]
                if t not in intervals:
                    intervals[t] = new_interval(t)
                add_record(intervals[t], rec)
        for t in sorted(intervals):
            intervals[t].emit(emitter, dense)
    else:
        for path in files:
            try:
                run_file(path)
            except Exception as e:
                errors.append("%s: %s: %s" % (path, type(e).__name__, e))
    if errors:
        raise RuntimeError("; ".join(errors))


def add_record_factory(mode, want, ranges, popular_only, geo_fields, report):
    def add_record(cur, rec):
        # which records count
        if mode in ("nonspoofed", "unrouted-nonspoofed"):
            if not is_nonspoofed(rec):
                return
            if mode == "unrouted-nonspoofed" and not is_unrouted(rec["src_ip"]):
                return
        s = cur.map_src(rec["src_ip"])
        d = cur.map_dst(rec["dst_ip"])
        proto = rec["protocol"]
        if "summary" in want:
            cur.add("summary", "overall", rec, s, d)
        if "ipprotocol" in want:
            cur.add("ipprotocol", proto, rec, s, d)
        if "tcp_src_ports" in want and proto in (6, 17):
            pfx = "tcp" if proto == 6 else "udp"
            for direction, port in (("src", rec["src_port"]), ("dst", rec["dst_port"])):
                cls = "%s_%s_ports" % (pfx, direction)
                if popular_only and not popular(port, proto):
                    continue
                if cls in ranges and port not in ranges[cls]:
                    continue
                cur.add(cls, port, rec, s, d)
        if "icmp" in want and proto == 1:
            cur.add("icmp", (rec["src_port"], rec["dst_port"]), rec, s, d)
        for cont_cls, ctry_cls, cont_f, ctry_f in geo_fields:
            cont = sanitize(rec[cont_f])
            ctry = sanitize(rec[ctry_f])
            if report:
                if cont != "??":
                    cur.add(cont_cls, cont, rec, s, d)
                if ctry != "??" and ctry in COUNTRY_CONTINENT:
                    cur.add(ctry_cls, ctry, rec, s, d)
                continue
            cur.add(cont_cls, cont, rec, s, d)
            cur.add(ctry_cls, ctry, rec, s, d)
            cur.continent_of[ctry_cls].setdefault(ctry, cont)
        if "asn" in want and rec["prefix2asn"] != 0:
            cur.add("asn", rec["prefix2asn"], rec, s, d)
    return add_record


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("file")
    ap.add_argument("mode", choices=MODES)
    ap.add_argument("--src-ip-counting", default="all")
    ap.add_argument("--dst-ip-counting", default="all")
    ap.add_argument("--format", default="seed", choices=("seed", "timeseries", "jsonl", "csv"))
    ap.add_argument("--label")
    ap.add_argument("--compat", default="script", choices=("script", "report"))
    ap.add_argument("--interval-length", type=int, default=60)
    ap.add_argument("--merge-repeated", action="store_true")
    ap.add_argument("--also", action="append", help="more FILEs, after FILE, in order")
    ap.add_argument("--geo", default="netacq", choices=("netacq", "maxmind", "both"))
    ap.add_argument("--tcp-src-ports")
    ap.add_argument("--tcp-dst-ports")
    ap.add_argument("--udp-src-ports")
    ap.add_argument("--udp-dst-ports")
    args = ap.parse_args(argv)
    if args.label is None:
        args.label = "unlabeled" if args.compat == "report" else "flowtuple"
    return args


def run_capture(argv):
    """(stdout bytes, exit status, error text) for a command line (list, after the program name)."""
    args = parse_args(argv)
    out = io.StringIO()
    err = ""
    try:
        run(args, out)
        status = 0
    except Exception as e:  # input errors: keep what was printed, report, exit 1
        err = "%s: %s: %s" % (args.file, type(e).__name__, e)
        status = 1
    return out.getvalue().encode("utf-8"), status, err


def main(argv=None):
    args = parse_args(argv)
    out = io.TextIOWrapper(sys.stdout.buffer, encoding="utf-8", newline="\n", write_through=False)
    status = 0
    try:
        run(args, out)
    except Exception as e:  # input errors: keep what was printed, report, exit 1
        out.flush()
        print("reference.py: %s: %s: %s" % (args.file, type(e).__name__, e), file=sys.stderr)
        status = 1
    out.flush()
    return status


if __name__ == "__main__":
    sys.exit(main())
