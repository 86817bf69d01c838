//! Complete intervals to output, in output order: the report rules' dense
//! keys (which carry from one interval to the next, see
//! [`super::report::dense`]), then the format's bytes or TSK messages.
//! The one place where dense keys are applied.

use super::format::tsk::TskError;
use super::format::Formatter;
use super::options::{Compat, SeriesOptions};
use super::report::dense::Densifier;
use super::series::IntervalSeries;

/// Renders the complete intervals of a run, in output order.
///
/// Under report rules ([`Compat::Report`]) every interval gains a zero row
/// for each key corsaro's report plugin pre-creates and for each key an
/// earlier interval rendered: an interval's output then depends on the
/// intervals rendered before it ([`Renderer::carries_keys`]).
#[derive(Debug, Clone)]
pub struct Renderer {
    formatter: Formatter,
    dense: Option<Densifier>,
}

impl Renderer {
    /// A renderer of `formatter`'s format, with dense keys when `options`
    /// follow the report plugin's rules.
    pub fn new(formatter: Formatter, options: &SeriesOptions) -> Renderer {
        Renderer {
            formatter,
            dense: (options.compat == Compat::Report).then(|| Densifier::new(options)),
        }
    }

    /// The format, for intervals whose output depends on nothing before
    /// them (when [`Renderer::carries_keys`] is false, intervals may be
    /// formatted apart, in any order, with it).
    pub fn formatter(&self) -> &Formatter {
        &self.formatter
    }

    /// True when an interval's output depends on the intervals rendered
    /// before it (dense keys): they must all go through
    /// [`Renderer::render`] or [`Renderer::tsk`], in output order.
    pub fn carries_keys(&self) -> bool {
        self.dense.is_some()
    }

    /// Appends the next interval's output to `out`.
    pub fn render(&mut self, mut interval: IntervalSeries, out: &mut Vec<u8>) {
        self.densify(&mut interval);
        self.formatter.serialize(&interval, out);
    }

    /// The next interval as TSK messages on `channel` (see
    /// [`Formatter::tsk`]). The interval counts as rendered even when it
    /// cannot be encoded.
    pub fn tsk(
        &mut self,
        mut interval: IntervalSeries,
        channel: &str,
    ) -> Result<Vec<Vec<u8>>, TskError> {
        self.densify(&mut interval);
        self.formatter.tsk(&interval, channel)
    }

    fn densify(&mut self, interval: &mut IntervalSeries) {
        if let Some(dense) = &mut self.dense {
            dense.apply(interval);
        }
    }
}
