//! The command line of `flowtuple-series`, converted to typed options.

use std::path::PathBuf;
use std::time::Duration;

use crate::checks;
use crate::progress::When;
use clap::parser::ValueSource;
use clap::{CommandFactory, FromArgMatches, Parser, ValueEnum};
use telescope_core::flowtuple::{
    flowtuple4, Compat, Format, Formatter, GeoSource, Input, IpCounting, Kind, Mode, ParseError,
    PortFilters, PortSet, SeriesOptions, SpillOptions,
};

use crate::help::AFTER_HELP;
use crate::kafka;
use crate::options::{Compression, KafkaSettings, Options};

/// Help layout: the positional arguments are described by their two forms
/// (clap would show one `<ARGS>...`).
const HELP_TEMPLATE: &str = "\
{about-with-newline}
{usage-heading} {usage}

Arguments:
  <FILE> <MODE>               one file (`-` is stdin) and its mode
  --mode <MODE> <FILE>...     many files in one mode, processed in parallel

{all-args}{after-help}";

/// Streams corsaro3 flowtuple Avro files and prints report-plugin style time
/// series.
#[derive(Debug, Parser)]
#[command(name = "flowtuple-series", version, after_help = AFTER_HELP)]
#[command(help_template = HELP_TEMPLATE)]
#[command(
    override_usage = "flowtuple-series [OPTIONS] <FILE> <MODE>\n       flowtuple-series [OPTIONS] --mode <MODE> <FILE>..."
)]
pub struct Cli {
    /// `<FILE> <MODE>`, or with `--mode <MODE>` one or more `<FILE>...`
    /// (`-` is stdin).
    // Not required by clap: a missing FILE or MODE is reported by `parse`,
    // naming both forms.
    #[arg(value_name = "FILE|MODE", hide = true)]
    args: Vec<String>,

    /// The mode, for the multi-file form (then every positional argument is a file).
    #[arg(short, long, value_enum)]
    mode: Option<ModeArg>,

    /// Output format.
    #[arg(long, value_enum, default_value_t = FormatArg::Seed)]
    format: FormatArg,

    /// Key prefix of the timeseries format [default: flowtuple, or
    /// unlabeled with --compat report].
    #[arg(long)]
    label: Option<String>,

    /// Whose rules: the original script's or corsaro's report plugin's.
    #[arg(long, value_enum, default_value_t = CompatArg::Script)]
    compat: CompatArg,

    /// Interval length in seconds, for the sample index of sample:N.
    #[arg(long, value_name = "SECS", default_value_t = 60, value_parser = clap::value_parser!(u32).range(1..))]
    interval_length: u32,

    /// Merge runs of a repeated timestamp (in one FILE or several) into one
    /// interval; print every interval in ascending time at the end (not with
    /// --kafka-brokers).
    #[arg(long, conflicts_with = "kafka_brokers")]
    merge_repeated: bool,

    /// How uniq_src_ips counts addresses: all, prefixagg:N or sample:N.
    #[arg(long, value_name = "METHOD", default_value = "all", value_parser = parse_counting)]
    src_ip_counting: IpCounting,

    /// How uniq_dst_ips counts addresses: all, prefixagg:N or sample:N.
    #[arg(long, value_name = "METHOD", default_value = "all", value_parser = parse_counting)]
    dst_ip_counting: IpCounting,

    /// flowtuple4 only: the prefix length of the files' dst_net networks
    /// (ftconvert -n 24 or 16), which the files do not record.
    #[arg(long, value_name = "24|16", value_parser = parse_dst_net)]
    dst_net: Option<u8>,

    /// Geolocation source of the geo series.
    #[arg(long, value_enum, default_value_t = GeoArg::Netacq)]
    geo: GeoArg,

    /// Only these TCP source ports (e.g. 0-1024,5000,8080-8081).
    #[arg(long, value_name = "RANGES", value_parser = parse_ports)]
    tcp_src_ports: Option<PortSet>,

    /// Only these TCP destination ports.
    #[arg(long, value_name = "RANGES", value_parser = parse_ports)]
    tcp_dst_ports: Option<PortSet>,

    /// Only these UDP source ports.
    #[arg(long, value_name = "RANGES", value_parser = parse_ports)]
    udp_src_ports: Option<PortSet>,

    /// Only these UDP destination ports.
    #[arg(long, value_name = "RANGES", value_parser = parse_ports)]
    udp_dst_ports: Option<PortSet>,

    /// Worker threads [default: the number of cores].
    #[arg(short = 'j', long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    threads: Option<u16>,

    /// Memory for the interval being read, all files and threads together
    /// (e.g. 512M, 4G; `none`: unlimited). Past it, work spills to
    /// temporary files; the output is the same. Key tables do not spill: a
    /// file needing more than half of its share for them fails.
    #[arg(long, value_name = "SIZE", default_value = "1G", value_parser = parse_size)]
    memory_limit: Size,

    #[command(flatten)]
    remote: crate::remote::RemoteArgs,

    /// Directory of temporary files when spilling [default: $TMPDIR, else
    /// /tmp]. The files are unlinked as they are created.
    #[arg(long, value_name = "DIR")]
    temp_dir: Option<std::path::PathBuf>,

    /// One line per file on stderr at the end: records read, counted,
    /// intervals, bytes spilled, seconds.
    #[arg(long)]
    stats: bool,

    /// Progress on stderr: files done, records/s, ETA where sizes are known
    /// (auto: when stderr is a terminal; into a file or pipe, plain lines).
    #[arg(long, value_enum, value_name = "WHEN", default_value_t = When::Auto)]
    progress: When,

    /// Print only errors on stderr: no tally at the end of a multi-file
    /// run, no progress (whatever --progress says), no warnings.
    #[arg(short, long)]
    quiet: bool,

    /// Print a completion script for SHELL (bash, zsh, fish, ...) and exit.
    #[arg(long, value_name = "SHELL", exclusive = true)]
    completions: Option<clap_complete::Shell>,

    /// Print the man page (roff) and exit.
    #[arg(long, exclusive = true)]
    man: bool,

    /// Publish the series (the keys and values of --format timeseries) to
    /// these Kafka brokers in libtimeseries' TSK format instead of printing
    /// them. An interval counts as published once the broker acknowledged
    /// it; a broker still unreachable after --kafka-retry-secs is an error
    /// naming the first interval not published (exit status 1). The topic
    /// must exist.
    #[arg(
        long,
        value_name = "HOST:PORT,...",
        value_delimiter = ',',
        num_args = 1,
        conflicts_with = "format",
        requires = "kafka_channel",
        help_heading = "Kafka"
    )]
    kafka_brokers: Vec<String>,

    /// The topic is <PREFIX>.<CHANNEL>.
    #[arg(
        long,
        value_name = "PREFIX",
        default_value = "tsk-production",
        requires = "kafka_brokers",
        help_heading = "Kafka"
    )]
    kafka_topic_prefix: String,

    /// Channel name, in the topic and in every message (required with
    /// --kafka-brokers).
    #[arg(
        long,
        value_name = "CHANNEL",
        requires = "kafka_brokers",
        help_heading = "Kafka"
    )]
    kafka_channel: Option<String>,

    /// Message compression.
    #[arg(long, value_enum, default_value_t = CompressionArg::Snappy, requires = "kafka_brokers", help_heading = "Kafka")]
    kafka_compression: CompressionArg,

    /// How long to retry, with backoff, a broker that does not answer.
    #[arg(long, value_name = "SECS", default_value_t = 30, requires = "kafka_brokers",
          value_parser = clap::value_parser!(u64).range(1..=3600), help_heading = "Kafka")]
    kafka_retry_secs: u64,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum CompressionArg {
    Snappy,
    None,
}

/// A memory size, or none.
#[derive(Debug, Clone, Copy)]
struct Size(Option<u64>);

/// `none`, or a number with an optional K, M, G or T suffix (powers of
/// 1024; a trailing `B` or `iB` is allowed).
fn parse_size(s: &str) -> Result<Size, String> {
    if s.eq_ignore_ascii_case("none") {
        return Ok(Size(None));
    }
    let bad = || format!("`{s}` is not a size (e.g. 512M, 4G, none)");
    let t = s.trim_end_matches(['B', 'b']).trim_end_matches('i');
    let (digits, shift) = match t.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => {
            let shift = match c.to_ascii_uppercase() {
                'K' => 10,
                'M' => 20,
                'G' => 30,
                'T' => 40,
                _ => return Err(bad()),
            };
            (&t[..i], shift)
        }
        _ => (t, 0),
    };
    let n: u64 = digits.parse().map_err(|_| bad())?;
    n.checked_mul(1 << shift)
        .filter(|&n| n > 0)
        .map(|n| Size(Some(n)))
        .ok_or_else(bad)
}

fn parse_counting(s: &str) -> Result<IpCounting, String> {
    s.parse().map_err(|e: ParseError| e.to_string())
}

fn parse_dst_net(s: &str) -> Result<u8, String> {
    match s {
        "24" => Ok(24),
        "16" => Ok(16),
        _ => Err(format!(
            "`{s}` is not 24 or 16 (ftconvert aggregates destinations to /24 or /16)"
        )),
    }
}

fn parse_ports(s: &str) -> Result<PortSet, String> {
    s.parse().map_err(|e: ParseError| e.to_string())
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum ModeArg {
    Unfiltered,
    UnfilteredIpmeta,
    Nonspoofed,
    UnroutedNonspoofed,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum FormatArg {
    /// `<time> <class> <key> <counter> <value>`
    Seed,
    /// Graphite plaintext `<label>.<series>.<counter> <value> <time>`
    Timeseries,
    /// one JSON object per (interval, class, key)
    Jsonl,
    /// header, then one row per (interval, class, key)
    Csv,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum CompatArg {
    /// the original script's rules
    Script,
    /// corsaro's report plugin's rules
    Report,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum GeoArg {
    Netacq,
    Maxmind,
    Both,
}

/// A usage error for missing positional arguments (exit status 2).
fn missing(msg: &str) -> ! {
    Cli::command()
        .error(clap::error::ErrorKind::MissingRequiredArgument, msg)
        .exit()
}

/// Checks that spills could be written to the temporary directory, before
/// any input is read (a bad one would otherwise be found hours into a
/// run, at the first spill): when spilling is possible, or when
/// `--temp-dir` is given.
fn temp_dir_usable(given: Option<&PathBuf>, memory_limit: Size) -> Result<(), String> {
    if given.is_none() && memory_limit.0.is_none() {
        return Ok(());
    }
    let spill = SpillOptions {
        limit: u64::MAX,
        temp_dir: given.cloned().unwrap_or_else(std::env::temp_dir),
    };
    spill.check_temp_dir().map_err(|e| match given {
        Some(_) => format!("--temp-dir: {e}"),
        None => format!("{e} (the default: $TMPDIR, else /tmp; choose one with --temp-dir)"),
    })
}

fn usage_error(msg: String) -> ! {
    Cli::command()
        .error(clap::error::ErrorKind::ValueValidation, msg)
        .exit()
}

/// Parses the command line; usage errors exit with status 2; `--completions`
/// and `--man` print and exit 0.
pub fn parse() -> Options {
    let matches = Cli::command()
        .try_get_matches()
        .unwrap_or_else(|e| crate::usage::exit_without_misleading_tips(e));
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    print_docs_if_asked(&cli);
    let kafka = kafka_settings(&cli);
    let (mode, files) = mode_and_files(&cli);
    let given = |id: &str| matches.value_source(id) == Some(ValueSource::CommandLine);
    check_options_apply(&cli, mode, &given);
    if files.iter().filter(|f| f.as_str() == "-").count() > 1 {
        usage_error("stdin (`-`) can be read only once".into());
    }
    let compat = match cli.compat {
        CompatArg::Script => Compat::Script,
        CompatArg::Report => Compat::Report,
    };
    let label = cli.label.as_deref().unwrap_or(match compat {
        Compat::Script => "flowtuple",
        Compat::Report => "unlabeled",
    });
    let formatter =
        Formatter::new(format_of(cli.format), label).unwrap_or_else(|e| usage_error(e.to_string()));
    let threads = cli
        .threads
        .map(usize::from)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let concurrent_files = if cli.merge_repeated {
        1
    } else {
        threads.min(files.len()).max(1)
    };
    temp_dir_usable(cli.temp_dir.as_ref(), cli.memory_limit).unwrap_or_else(|e| usage_error(e));
    // Remote names and prefixes: one line, exit 2 for a usage error.
    let sources = crate::remote::sources(files, &cli.remote).unwrap_or_else(|e| {
        eprintln!("flowtuple-series: {e}");
        std::process::exit(if e.is_usage() { 2 } else { 1 })
    });
    let detected = crate::formats::detect(&sources).unwrap_or_else(|e| usage_error(e));
    let mut options = Options {
        sources,
        series: series_options(&cli, mode, compat, concurrent_files),
        formatter,
        threads,
        merge_repeated: cli.merge_repeated,
        kafka,
        stats: cli.stats,
        progress: if cli.quiet { When::Never } else { cli.progress },
        quiet: cli.quiet,
    };
    crate::remote::reserve(&cli.remote, &mut options.series, concurrent_files);
    let src_ports = given("tcp_src_ports") || given("udp_src_ports");
    flowtuple4(&mut options, detected.kind, cli.dst_net, src_ports)
        .unwrap_or_else(|e| usage_error(e));
    options
}

/// `--completions` and `--man`: prints and exits (0, or 1 when the output
/// cannot be written).
fn print_docs_if_asked(cli: &Cli) {
    let bash_extra = crate::completion::bash_modes(&Cli::command());
    match crate::docs::print_if_asked_with(Cli::command(), cli.completions, cli.man, &bash_extra) {
        Ok(true) => std::process::exit(0),
        Ok(false) => {}
        Err(e) => {
            eprintln!("flowtuple-series: writing output: {e}");
            std::process::exit(1)
        }
    }
}

/// The mode and the files, from either form of the positional arguments.
fn mode_and_files(cli: &Cli) -> (Mode, Vec<String>) {
    let valid_modes = Mode::ALL
        .iter()
        .map(|m| m.name())
        .collect::<Vec<_>>()
        .join(", ");
    let (mode, files) = match cli.mode {
        Some(_) if cli.args.is_empty() => missing("--mode <MODE> needs at least one <FILE>"),
        Some(m) => (mode_of(m), cli.args.clone()),
        None if cli.args.is_empty() => missing(&format!(
            "no <FILE> and <MODE> given (valid modes: {valid_modes})"
        )),
        None => {
            if cli.args.len() != 2 {
                usage_error(format!(
                    "expected <FILE> <MODE> (or --mode <MODE> <FILE>...); valid modes: {valid_modes}"
                ));
            }
            let mode = cli.args[1].parse::<Mode>().unwrap_or_else(|e| {
                usage_error(checks::mode_hint(e.to_string(), &cli.args[0], &cli.args[1]))
            });
            (mode, vec![cli.args[0].clone()])
        }
    };
    if cli.mode.is_some() {
        checks::no_mode_names_as_missing_files(&files).unwrap_or_else(|e| usage_error(e));
    }
    (mode, files)
}

/// Refuses options given on the command line that have no effect in
/// `mode` or the output format.
fn check_options_apply(cli: &Cli, mode: Mode, given: &dyn Fn(&str) -> bool) {
    // Kafka carries the keys of --format timeseries (so --label applies).
    let shown_as = if cli.kafka_brokers.is_empty() {
        format_of(cli.format)
    } else {
        Format::Timeseries
    };
    checks::options_apply(
        mode,
        shown_as,
        &checks::Given {
            label: given("label"),
            geo: given("geo"),
            tcp_src_ports: given("tcp_src_ports"),
            tcp_dst_ports: given("tcp_dst_ports"),
            udp_src_ports: given("udp_src_ports"),
            udp_dst_ports: given("udp_dst_ports"),
        },
    )
    .unwrap_or_else(|e| usage_error(e));
}

/// What to compute, for `concurrent_files` files read at once (they share
/// the memory limit).
fn series_options(cli: &Cli, mode: Mode, compat: Compat, concurrent_files: usize) -> SeriesOptions {
    SeriesOptions {
        mode,
        geo: match cli.geo {
            GeoArg::Netacq => GeoSource::Netacq,
            GeoArg::Maxmind => GeoSource::Maxmind,
            GeoArg::Both => GeoSource::Both,
        },
        src_counting: cli.src_ip_counting,
        dst_counting: cli.dst_ip_counting,
        ports: PortFilters {
            tcp_src: cli.tcp_src_ports.clone(),
            tcp_dst: cli.tcp_dst_ports.clone(),
            udp_src: cli.udp_src_ports.clone(),
            udp_dst: cli.udp_dst_ports.clone(),
        },
        compat,
        interval_length: cli.interval_length,
        input: Input::Flowtuple,
        spill: cli.memory_limit.0.map(|limit| SpillOptions {
            // Files read at once share the limit; an eighth of it is
            // left for key tables and sorting.
            limit: limit / 8 * 7 / concurrent_files as u64,
            temp_dir: cli.temp_dir.clone().unwrap_or_else(std::env::temp_dir),
        }),
    }
}

/// Sets up a run on flowtuple4 input (`kind`, or, when no header reads,
/// `--dst-net` given), refusing what it cannot give exactly.
fn flowtuple4(
    options: &mut Options,
    kind: Option<Kind>,
    dst_net: Option<u8>,
    src_ports: bool,
) -> Result<(), String> {
    match (kind, dst_net) {
        (Some(Kind::Flowtuple), Some(_)) => {
            return Err(
                "--dst-net applies to flowtuple4 files only; these are flowtuple (v3)".into(),
            )
        }
        (Some(Kind::Flowtuple4), None) => {
            return Err(
                "flowtuple4 files do not record whether dst_net holds /24 or /16 \
                 networks: state it with --dst-net 24 or --dst-net 16 (ftconvert's -n; \
                 its default is 16)"
                    .into(),
            )
        }
        (_, Some(dst_net)) => options.series.input = Input::Flowtuple4 { dst_net },
        (_, None) => return Ok(()),
    }
    if src_ports {
        return Err(
            "--tcp-src-ports and --udp-src-ports have no effect on flowtuple4 \
             (no source-port series: ftconvert does not keep source ports)"
                .into(),
        );
    }
    if let Some(why) = flowtuple4::unsupported(&options.series) {
        return Err(crate::flags::unsupported(why));
    }
    if let Some(n) = flowtuple4::counted_dst_prefix(&options.series) {
        options.formatter = options.formatter.clone().for_flowtuple4(n);
    }
    Ok(())
}

fn kafka_settings(cli: &Cli) -> Option<KafkaSettings> {
    if cli.kafka_brokers.is_empty() {
        return None;
    }
    if let Some(b) = cli.kafka_brokers.iter().find(|b| !b.contains(':')) {
        usage_error(format!("bad Kafka broker `{b}`: expected HOST:PORT"));
    }
    let channel = cli.kafka_channel.clone().unwrap_or_default();
    let topic = format!("{}.{channel}", cli.kafka_topic_prefix);
    kafka::check_topic(&topic).unwrap_or_else(|e| usage_error(e));
    Some(KafkaSettings {
        brokers: cli.kafka_brokers.clone(),
        topic,
        channel,
        compression: match cli.kafka_compression {
            CompressionArg::Snappy => Compression::Snappy,
            CompressionArg::None => Compression::None,
        },
        retry_for: Duration::from_secs(cli.kafka_retry_secs),
    })
}

fn mode_of(m: ModeArg) -> Mode {
    match m {
        ModeArg::Unfiltered => Mode::Unfiltered,
        ModeArg::UnfilteredIpmeta => Mode::UnfilteredIpmeta,
        ModeArg::Nonspoofed => Mode::Nonspoofed,
        ModeArg::UnroutedNonspoofed => Mode::UnroutedNonspoofed,
    }
}

fn format_of(f: FormatArg) -> Format {
    match f {
        FormatArg::Seed => Format::Seed,
        FormatArg::Timeseries => Format::Timeseries,
        FormatArg::Jsonl => Format::Jsonl,
        FormatArg::Csv => Format::Csv,
    }
}
