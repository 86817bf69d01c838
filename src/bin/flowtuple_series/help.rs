//! The text after `flowtuple-series --help`'s options (also the man
//! page's sections: see `docs::after_help`).

pub const AFTER_HELP: &str = "\
MODES:
  unfiltered           every record: summary, ipprotocol, TCP ports (all),
                       UDP ports (all), icmp
  unfiltered-ipmeta    every record: geo (continents, countries), asn
  nonspoofed           records with is_spoofed == 0 or is_masscan == 1:
                       summary, ipprotocol, geo, TCP ports (popular), icmp,
                       UDP ports (popular)
  unrouted-nonspoofed  nonspoofed records whose source is in a reserved,
                       unrouted network (0/8, 10/8, 127/8, 169.254/16,
                       172.16/12, 192.0.0/24, 192.0.2/24, 192.88.99/24,
                       192.168/16, 198.18/15, 198.51.100/24, 203.0.113/24,
                       or >= 224.0.0.0): summary, ipprotocol

OUTPUT (--format seed, the default), one data point a line on stdout:
  <time> <class> <key> <counter> <value>
  counters: packets, bytes (packet_cnt * ip_len), uniq_src_ips, uniq_dst_ips,
  uniq_src_asns. Intervals in file order, classes in mode order, keys
  ascending. An interval is printed once it is complete (the next record has
  another time, or the file ends); an interval cut short by an error is
  never printed.

IP COUNTING (--src-ip-counting / --dst-ip-counting), as corsaro's report
plugin; the counters keep their names:
  all           distinct addresses (default)
  prefixagg:N   distinct /N prefixes (1 <= N <= 32; true /N prefixes:
                corsaro's differ when N is not a multiple of 8)
  sample:N      only addresses whose host part within their /N equals the
                sample index (time / L) mod 2^(32-N), L = --interval-length.
                corsaro's index counts intervals since its process started;
                ours comes from the interval's time, so a minute is sampled
                the same way whatever files it is read with, and successive
                minutes walk through the host parts as corsaro's do.

COMPAT (--compat): `script` (default) follows the original script: every
ASN (0 included) and geo tag counts, only touched keys print. `report`
follows corsaro's report plugin: ASN 0 never counts and an ASN counts only
with a newly counted source; `??` geo tags make no key; countries are keyed
under libipmeta's continent (none: no key); every interval prints all 256
protocols, every allowed port, the eight continents and the table's
countries (zeros included) and every key printed before; --label defaults
to `unlabeled`.

GEO TAGS: a tag that is empty, not UTF-8, or holds whitespace (Unicode's
too), a control character, `.`, `/` or `;` counts and prints as `??` in
every format: a key must be one Graphite path node.

ONE BLOCK PER TIMESTAMP: a run prints each timestamp once. A FILE holding a
timestamp an earlier FILE printed (also the same FILE named twice) is an
error naming --merge-repeated; its other complete intervals are printed. An
interval counts as printed when it is handed to the output, whatever the
format writes of it (with Kafka: published).

MERGING (--merge-repeated): runs of a timestamp seen before, in the same
FILE or another, are merged into one interval (concatenated per-thread
interim files); everything prints, in ascending time, after the last FILE.
A bad FILE is reported and none of its records count. --memory-limit bounds
all open intervals together.

INPUT: Avro object container files (codecs null, deflate, snappy, zstandard,
bzip2), optionally wrapped in gzip, bzip2 or zstd (detected by magic bytes).
FILE `-` reads stdin. corsaro3 flowtuple (v3) files, or stardust-tools
ftconvert's flowtuple4 files (told by their fields: `dst_net`); one run reads
one format.

FLOWTUPLE4: only what is exact. Modes unfiltered (summary, ipprotocol,
tcp_dst_ports, udp_dst_ports, icmp) and unfiltered-ipmeta (geo, asn);
counters packets, uniq_src_ips, uniq_src_asns as from v3, and
uniq_dst_net24s (or 16s): distinct destination networks, never addresses.
--dst-net 24|16 states the files' aggregation (ftconvert -n; the files do not
record it; a /16 file's networks are checked). No bytes, no source-port
classes (ftconvert drops packet sizes and source ports); nonspoofed and
unrouted-nonspoofed are refused (ftconvert merges records of different
spoofing flags); --dst-ip-counting all or prefixagg:N (N <= the stated
prefix); --compat report not with prefixagg sources. Files converted with
`ftconvert -I 5` have 5-minute intervals: pass --interval-length 300.

STDERR: errors; a run of several FILEs ends with `N files: K ok, M failed`;
-q prints errors only.

EXIT STATUS:
  0  success (also when stdout is closed early, e.g. by `head`)
  1  a FILE could not be read, is malformed or repeats a timestamp (the other
     FILEs are still processed), or the Kafka broker stayed unreachable
  2  usage error (also a --temp-dir that is missing, not a directory or not
     writable)

EXAMPLES:
  flowtuple-series ucsd-nt.1600000000.flowtuple.avro nonspoofed
  flowtuple-series --mode unfiltered --format timeseries day/*.avro | nc -N graphite 2003
  # a backfill as a Slurm job array, one output per file (the script is in
  # the source tree; its --report says what is done, failed and missing)
  sbatch --array=0-99 --mem=4G contrib/slurm/backfill.sh files.txt out nonspoofed";
