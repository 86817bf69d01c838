//! The command line of `--check` and `--evaluate-check` (flattened into
//! [`crate::cli::Cli`]) and the library's knobs built from it.

use telescope_core::netprofile::CheckOptions;

/// The options of `--check` and `--evaluate-check`.
#[derive(Debug, Clone, clap::Args)]
pub struct CheckArgs {
    /// Compare every tag's rows not yet checked with the profile in force
    /// for them and print one JSON line on stdout when an episode out of
    /// profile starts or ends (see --help); writes only the check state.
    #[arg(long, conflicts_with_all = ["evaluate", "keep", "complete_only", "plot", "max_age"])]
    pub check: bool,

    /// Replay the last DAYS days (default 4) hour by hour as cron would
    /// (profile, then check) and print the episodes; writes nothing.
    #[arg(long, value_name = "DAYS", num_args = 0..=1, default_missing_value = "4",
          value_parser = clap::value_parser!(u32).range(1..=365),
          conflicts_with_all = ["evaluate", "check", "keep", "complete_only", "plot", "max_age"])]
    pub evaluate_check: Option<u32>,

    /// With --check: also write each episode's start as an IDEA message
    /// into DIR/tmp/, renamed into DIR/incoming/ (warden_filer's directory).
    #[arg(long, value_name = "DIR", requires = "check")]
    pub idea: Option<std::path::PathBuf>,

    /// The IDEA messages' Node.Name (the reporting system, reverse-domain).
    #[arg(
        long,
        value_name = "NAME",
        default_value = "local.netprofile",
        requires = "idea"
    )]
    pub idea_node: String,

    /// With --check: also write an overview page of every tag (open
    /// episodes first, with their pictures), one static HTML file replaced
    /// atomically.
    #[arg(long, value_name = "FILE", requires = "check")]
    pub html: Option<std::path::PathBuf>,

    /// Consecutive out-of-profile rows before an episode opens.
    #[arg(long, value_name = "ROWS", default_value_t = CheckOptions::default().grace,
          value_parser = clap::value_parser!(u32).range(1..=48))]
    pub check_grace: u32,

    /// How far outside the band a metric must be to count, in multiples of
    /// the band's distance from yhat on a log scale (1: the band's edge).
    #[arg(long, value_name = "S", default_value_t = CheckOptions::default().severity,
          value_parser = severity)]
    pub check_severity: f64,

    /// Rows back inside the band after which an episode ends.
    #[arg(long, value_name = "ROWS", default_value_t = CheckOptions::default().close_after,
          value_parser = clap::value_parser!(u32).range(1..=48))]
    pub check_close: u32,

    /// Above the band, a metric opens an episode only at F times yhat or
    /// more.
    #[arg(long, value_name = "F", default_value_t = CheckOptions::default().rise,
          value_parser = factor)]
    pub check_rise: f64,

    /// Below the band, a metric opens an episode only at yhat / F or less.
    #[arg(long, value_name = "F", default_value_t = CheckOptions::default().fall,
          value_parser = factor)]
    pub check_fall: f64,
}

fn factor(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(x) if (1.0..=100.0).contains(&x) => Ok(x),
        _ => Err("expected a number from 1 (any change) to 100, e.g. 2".into()),
    }
}

fn severity(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(x) if (1.0..=50.0).contains(&x) => Ok(x),
        _ => Err("expected a number from 1 (the band's edge) to 50, e.g. 1.5".into()),
    }
}

impl CheckArgs {
    /// The library's knobs.
    pub fn options(&self) -> CheckOptions {
        CheckOptions {
            grace: self.check_grace,
            severity: self.check_severity,
            close_after: self.check_close,
            rise: self.check_rise,
            fall: self.check_fall,
            ..CheckOptions::default()
        }
    }
}
