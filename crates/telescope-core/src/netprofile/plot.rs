//! A picture of a profile ([`super::RunOptions::plot`]): one SVG per tag with a panel per
//! protocol and metric showing the last [`HISTORY_DAYS`] days of history,
//! the rows dropped as outliers and the forecast with its band.
//!
//! Drawn with `plotters`' SVG backend (no font libraries: text is written as
//! SVG `<text>` and laid out with estimated sizes). Colours identify the
//! elements: history [`HISTORY`], outliers [`OUTLIER`] (one circle each),
//! forecast [`FORECAST`] (a line and a translucent band polygon).

use plotters::prelude::*;

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};
use plotters::coord::types::RangedCoordf64;

use super::error::Warning;
use super::nemea::Row;
use super::options::ProfileOptions;
use super::profile::Profile;
use super::protocol::Protocol;
use super::series::{protocol_rows, series, Metric, Point, Series};
use super::time::{format_timestamp, HOUR_US};

/// Days of history shown before the forecast.
pub(crate) const HISTORY_DAYS: i64 = 7;
/// Colour of the history line (`#8C8C8C`, a mid grey: lighter than the
/// black text and axes).
pub(crate) const HISTORY: RGBColor = RGBColor(140, 140, 140);
/// Colour of the outlier circles (`#D62728`).
pub(crate) const OUTLIER: RGBColor = RGBColor(214, 39, 40);
/// Colour of the hours a check found out of profile (`#FF7F0E`).
pub(crate) const OUT_OF_PROFILE: RGBColor = RGBColor(255, 127, 14);
/// Colour of the forecast line and band (`#1F77B4`).
pub(crate) const FORECAST: RGBColor = RGBColor(31, 119, 180);

const PANEL_W: u32 = 520;
const PANEL_H: u32 = 260;
const HEADER_H: u32 = 56;
const DAY_US: i64 = 24 * HOUR_US;

/// The value axis of a panel: ticks from 0 at a round step (1, 2 or 2.5,
/// 5 times a power of ten), every label with one SI prefix and the same
/// decimals (`0`, `0.5M`, `1.0M`, `1.5M`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ValueAxis {
    /// Tick values, from 0 up to the first at or above the data's maximum.
    pub ticks: Vec<f64>,
    /// The prefix's factor (1e6 for `M`).
    divisor: f64,
    /// The prefix (`M`).
    prefix: &'static str,
    /// Decimals of every label.
    decimals: usize,
}

impl ValueAxis {
    /// The axis for values from 0 to `max` with at most about `n` ticks.
    pub fn new(max: f64, n: usize) -> Self {
        let max = if max > 0.0 && max.is_finite() {
            max
        } else {
            1.0
        };
        let raw = max / n.max(1) as f64;
        let power = 10f64.powf(raw.log10().floor());
        let step = [1.0, 2.0, 2.5, 5.0, 10.0]
            .into_iter()
            .map(|m| m * power)
            .find(|s| *s >= raw)
            .unwrap_or(10.0 * power);
        let count = (max / step - 1e-9).ceil().max(1.0) as usize;
        let ticks: Vec<f64> = (0..=count).map(|i| i as f64 * step).collect();
        let top = ticks[count];
        let (divisor, prefix) = [(1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")]
            .into_iter()
            .find(|(d, _)| top >= *d)
            .unwrap_or((1.0, ""));
        // Enough decimals for the step in the prefix's unit (2.5 -> 1).
        let scaled = step / divisor;
        let decimals = (0..=6)
            .find(|&d| {
                let f = 10f64.powi(d);
                ((scaled * f).round() - scaled * f).abs() < 1e-6 * f.max(1.0)
            })
            .unwrap_or(6) as usize;
        ValueAxis {
            ticks,
            divisor,
            prefix,
            decimals,
        }
    }

    /// The top of the axis (the last tick).
    pub fn top(&self) -> f64 {
        self.ticks.last().copied().unwrap_or(1.0)
    }

    /// The label of `v`: `0`, or `v` in the axis's prefix and decimals.
    pub fn label(&self, v: f64) -> String {
        if v == 0.0 {
            return "0".to_string();
        }
        format!("{:.*}{}", self.decimals, v / self.divisor, self.prefix)
    }
}

/// Time ticks (days since the epoch) from `x0` to `x1` at a round step of
/// hours (1, 2, 3, 6 or 12 h, or whole days), aligned to UTC midnight, and
/// whether the labels are dates alone (the step is whole days).
pub(crate) fn time_ticks(x0: f64, x1: f64) -> (Vec<f64>, bool) {
    let hours = (x1 - x0) * 24.0;
    let steps = [1, 2, 3, 6, 12, 24, 48, 72, 96, 168, 336, 672];
    // Dates alone fit 5 labels in a panel; dates with a time, 4.
    let step = steps
        .into_iter()
        .find(|&h| {
            let most = if h % 24 == 0 { 5.0 } else { 4.0 };
            hours / h as f64 <= most
        })
        .unwrap_or(672);
    let step_days = step as f64 / 24.0;
    let first = (x0 / step_days).ceil() as i64;
    let last = (x1 / step_days).floor() as i64;
    let ticks = (first..=last).map(|i| i as f64 * step_days).collect();
    (ticks, step % 24 == 0)
}

/// A time tick (days since the epoch, UTC) as `YYYY-MM-DD`, or with
/// `with_time` as `YYYY-MM-DD HH:MM`.
pub(crate) fn time_label(days: f64, with_time: bool) -> String {
    let us = (days * DAY_US as f64).round() as i64;
    let s = format_timestamp(us - us.rem_euclid(60_000_000));
    let end = if with_time { 16 } else { 10 };
    s.get(..end).unwrap_or(&s).replace('T', " ")
}

/// `text` in lines of at most `width` characters, broken at spaces (a
/// longer word stands alone).
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for word in text.split(' ') {
        match lines.last_mut() {
            Some(line) if line.chars().count() + 1 + word.chars().count() <= width => {
                line.push(' ');
                line.push_str(word);
            }
            _ => lines.push(word.to_string()),
        }
    }
    lines
}

/// A linear axis with the given ticks (plotters' own `WithKeyPoints` does
/// not take label formatters for `f64`).
struct Ticked {
    inner: RangedCoordf64,
    ticks: Vec<f64>,
}

impl Ticked {
    fn new(range: std::ops::Range<f64>, ticks: Vec<f64>) -> Self {
        Ticked {
            inner: range.into(),
            ticks,
        }
    }
}

impl Ranged for Ticked {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        self.inner.map(value, limit)
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        // Bold lines and labels at the ticks; no light lines.
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.ticks.clone()
        }
    }

    fn range(&self) -> std::ops::Range<f64> {
        self.inner.range()
    }
}

/// Axis position of a time: days since the epoch.
fn days(us: i64) -> f64 {
    us as f64 / DAY_US as f64
}

/// The picture of `profile` (built from `rows` with `opts`) as an SVG
/// document; `title` heads it (e.g. `tag 1`). One row of panels per
/// protocol of `opts`, one column per metric; a series that was not
/// forecast gets a note instead of a chart. `marks` (protocol,
/// `TIME_FIRST`): the hours a check found out of profile, shaded in every
/// panel of their protocol (none: no shading, no legend entry).
pub(crate) fn render_svg(
    title: &str,
    rows: &[Row],
    profile: &Profile,
    opts: &ProfileOptions,
    warnings: &[Warning],
    marks: &[(Protocol, i64)],
) -> Result<String, String> {
    let panels: Vec<_> = profile
        .protocols
        .iter()
        .flat_map(|p| {
            p.metrics
                .iter()
                .map(move |(m, pts)| (p.protocol, *m, pts.as_slice()))
        })
        .collect();
    let nrows = opts.protocols.len().max(1);
    let size = (3 * PANEL_W, HEADER_H + nrows as u32 * PANEL_H);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        let e = |e: DrawingAreaErrorKind<_>| e.to_string();
        root.fill(&WHITE).map_err(e)?;
        let (head, body) = root.split_vertically(HEADER_H);
        head.draw_text(
            &format!(
                "{title}: history of the last {HISTORY_DAYS} days (grey), rows dropped as \
                 outliers above the {} quantile (red), {} h forecast with its {:.0}% band (blue){}; UTC",
                opts.outlier_quantile,
                opts.horizon,
                opts.interval_width * 100.0,
                if marks.is_empty() { "" } else { ", hours out of profile (orange)" }
            ),
            &("sans-serif", 17).into_font().color(&BLACK),
            (12, 18),
        )
        .map_err(e)?;
        let cells = body.split_evenly((nrows, 3));
        for (i, &protocol) in opts.protocols.iter().enumerate() {
            for (j, metric) in Metric::ALL.into_iter().enumerate() {
                let cell = &cells[i * 3 + j];
                match panels
                    .iter()
                    .find(|(pr, m, _)| *pr == protocol && *m == metric)
                {
                    Some(&(protocol, metric, points)) => {
                        let all = series(protocol_rows(rows, protocol), metric);
                        let caption = format!("{protocol} {metric}");
                        let out: Vec<i64> = marks
                            .iter()
                            .filter(|(p, _)| *p == protocol)
                            .map(|(_, t)| *t)
                            .collect();
                        panel(cell, &caption, &all, points, opts.outlier_quantile, &out)?;
                    }
                    None => {
                        let reason = warnings
                            .iter()
                            .find_map(|w| w.left_out_reason(protocol, metric))
                            .unwrap_or_else(|| "not forecast".to_string());
                        let note = format!("{protocol} {metric}: not forecast: {reason}");
                        for (k, line) in wrap(&note, 60).iter().enumerate() {
                            cell.draw_text(
                                line,
                                &("sans-serif", 15).into_font().color(&BLACK),
                                (20, 20 + 20 * k as i32),
                            )
                            .map_err(e)?;
                        }
                    }
                }
            }
        }
        root.present().map_err(e)?;
    }
    Ok(svg)
}

/// The forecast band's outline: the upper edge forwards, the lower back.
fn band(points: &[Point]) -> Vec<(f64, f64)> {
    points
        .iter()
        .map(|p| (days(p.timestamp), p.upper))
        .chain(points.iter().rev().map(|p| (days(p.timestamp), p.lower)))
        .collect()
}

/// The hours out of profile (`out`: their TIME_FIRST) shown from `start`
/// on, as shaded columns up to `top`, cut at `x1` (days).
fn shaded_hours(out: &[i64], start: i64, x1: f64, top: f64) -> Vec<Rectangle<(f64, f64)>> {
    out.iter()
        .filter(|&&t| t >= start)
        .map(|&t| {
            let (a, b) = (days(t), days(t + HOUR_US).min(x1));
            Rectangle::new([(a, 0.0), (b, top)], OUT_OF_PROFILE.mix(0.3).filled())
        })
        .collect()
}

/// One protocol and metric: history, outliers, forecast and band, the
/// hours out of profile (`out`) shaded.
fn panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    caption: &str,
    all: &Series,
    points: &[Point],
    q: f64,
    out: &[i64],
) -> Result<(), String> {
    let e = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    let kept = all.drop_above_quantile(q);
    let limit = kept
        .values
        .iter()
        .copied()
        .fold(f64::NEG_INFINITY, f64::max);
    let end = points.last().map_or(0, |p| p.timestamp);
    let last_row = all.timestamps.last().copied().unwrap_or(end);
    let first_row = all.timestamps.first().copied().unwrap_or(end);
    let start = (last_row - HISTORY_DAYS * DAY_US).max(first_row);
    let shown: Vec<(f64, f64)> = all
        .timestamps
        .iter()
        .zip(&all.values)
        .filter(|(t, _)| **t >= start)
        .map(|(&t, &y)| (days(t), y))
        .collect();
    let history: Vec<(f64, f64)> = shown.iter().copied().filter(|p| p.1 <= limit).collect();
    let dropped: Vec<(f64, f64)> = shown.iter().copied().filter(|p| p.1 > limit).collect();
    let ymax = shown
        .iter()
        .map(|p| p.1)
        .chain(points.iter().map(|p| p.upper))
        .fold(0.0, f64::max);
    // A little room above the highest value.
    let axis = ValueAxis::new(ymax * 1.02, 5);
    let (x0, x1) = (days(start), days(end.max(last_row) + HOUR_US));
    let (xticks, dates_only) = time_ticks(x0, x1);
    let mut chart = ChartBuilder::on(area)
        .caption(caption, ("sans-serif", 16))
        .margin(8)
        .margin_right(44)
        .x_label_area_size(28)
        .y_label_area_size(52)
        .build_cartesian_2d(
            Ticked::new(x0..x1, xticks),
            Ticked::new(0.0..axis.top(), axis.ticks.clone()),
        )
        .map_err(e)?;
    chart
        .configure_mesh()
        .x_label_formatter(&|x| time_label(*x, !dates_only))
        .y_label_formatter(&|y| axis.label(*y))
        .light_line_style(WHITE.mix(0.0))
        .bold_line_style(BLACK.mix(0.08))
        .label_style(("sans-serif", 12))
        .draw()
        .map_err(e)?;
    chart
        .draw_series(std::iter::once(Polygon::new(
            band(points),
            FORECAST.mix(0.25).filled(),
        )))
        .map_err(e)?;
    chart
        .draw_series(shaded_hours(out, start, x1, axis.top()))
        .map_err(e)?;
    chart
        .draw_series(LineSeries::new(history, HISTORY.stroke_width(2)))
        .map_err(e)?;
    chart
        .draw_series(
            dropped
                .into_iter()
                .map(|p| Circle::new(p, 3, OUTLIER.filled())),
        )
        .map_err(e)?;
    chart
        .draw_series(LineSeries::new(
            points.iter().map(|p| (days(p.timestamp), p.yhat)),
            FORECAST.stroke_width(2),
        ))
        .map_err(e)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_labels_share_prefix_and_decimals() {
        let labels = |max: f64| {
            let a = ValueAxis::new(max, 5);
            a.ticks.iter().map(|&t| a.label(t)).collect::<Vec<_>>()
        };
        assert_eq!(labels(1.6e6), ["0", "0.5M", "1.0M", "1.5M", "2.0M"]);
        assert_eq!(labels(9.1e5), ["0", "0.2M", "0.4M", "0.6M", "0.8M", "1.0M"]);
        assert_eq!(labels(4.4e9), ["0", "1G", "2G", "3G", "4G", "5G"]);
        assert_eq!(
            labels(1.1e4),
            ["0", "2.5k", "5.0k", "7.5k", "10.0k", "12.5k"]
        );
        assert_eq!(labels(0.0), ["0", "0.2", "0.4", "0.6", "0.8", "1.0"]);
    }

    #[test]
    fn notes_wrap_at_spaces() {
        assert_eq!(wrap("ab cd ef", 5), ["ab cd", "ef"]);
        assert_eq!(wrap("abcdefg h", 5), ["abcdefg", "h"]);
    }

    #[test]
    fn time_ticks_are_round_and_carry_the_year() {
        let t = 1_535_138_360_737_000; // 2018-08-24T19:19:20.737 UTC
        assert_eq!(time_label(days(t), true), "2018-08-24 19:19");
        assert_eq!(time_label(17767.0, false), "2018-08-24");
        // 8 days: a tick every 2 days at midnight, dates alone.
        let (ticks, dates) = time_ticks(17760.3, 17768.2);
        assert!(dates);
        assert_eq!(ticks, [17762.0, 17764.0, 17766.0, 17768.0]);
        // 20 hours: every 6 h, with the time.
        let (ticks, dates) = time_ticks(17767.1, 17767.1 + 20.0 / 24.0);
        assert!(!dates);
        let labels: Vec<_> = ticks.iter().map(|&d| time_label(d, true)).collect();
        assert_eq!(
            labels,
            ["2018-08-24 06:00", "2018-08-24 12:00", "2018-08-24 18:00"]
        );
    }
}
