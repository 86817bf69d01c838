//! A picture of a profile (`--plot`): one SVG per tag with a panel per
//! protocol and metric showing the last [`HISTORY_DAYS`] days of history,
//! the rows dropped as outliers and the forecast with its band.
//!
//! Drawn with `plotters`' SVG backend (no font libraries: text is written as
//! SVG `<text>` and laid out with estimated sizes). Colours identify the
//! elements: history [`HISTORY`], outliers [`OUTLIER`] (one circle each),
//! forecast [`FORECAST`] (a line and a translucent band polygon).

use plotters::prelude::*;

use super::nemea::Row;
use super::profile::Profile;
use super::series::{protocol_rows, series, Metric, Point, Series};
use super::time::{format_timestamp, HOUR_US};
use super::ProfileOptions;

/// Days of history shown before the forecast.
pub const HISTORY_DAYS: i64 = 7;
/// Colour of the history line (`#3C3C3C`).
pub const HISTORY: RGBColor = RGBColor(60, 60, 60);
/// Colour of the outlier circles (`#D62728`).
pub const OUTLIER: RGBColor = RGBColor(214, 39, 40);
/// Colour of the forecast line and band (`#1F77B4`).
pub const FORECAST: RGBColor = RGBColor(31, 119, 180);

const PANEL_W: u32 = 520;
const PANEL_H: u32 = 260;
const HEADER_H: u32 = 56;

/// `v` with an SI prefix: `16.0M`, `950k`, `3.2G`.
pub fn si(v: f64) -> String {
    let a = v.abs();
    let (d, p) = match a {
        a if a >= 1e15 => (1e15, "P"),
        a if a >= 1e12 => (1e12, "T"),
        a if a >= 1e9 => (1e9, "G"),
        a if a >= 1e6 => (1e6, "M"),
        a if a >= 1e3 => (1e3, "k"),
        _ => (1.0, ""),
    };
    let x = v / d;
    if x.abs() >= 100.0 || x == x.trunc() {
        format!("{x:.0}{p}")
    } else if x.abs() >= 10.0 {
        format!("{x:.1}{p}")
    } else {
        format!("{x:.2}{p}")
    }
}

/// An axis position (days since the epoch) as `MM-DD HH:MM` (UTC).
fn time_label(days: f64) -> String {
    let us = (days * DAY_US as f64).round() as i64;
    let s = format_timestamp(us - us.rem_euclid(60_000_000));
    s.get(5..16).unwrap_or(&s).replace('T', " ")
}

const DAY_US: i64 = 24 * HOUR_US;

/// Axis position of a time: days since the epoch (ticks fall on whole or
/// half days).
fn days(us: i64) -> f64 {
    us as f64 / DAY_US as f64
}

/// The picture of `profile` (built from `rows` with `opts`) as an SVG
/// document; `title` heads it (e.g. `tag 1`). One row of panels per
/// protocol of `opts`, one column per metric; a series that was not
/// forecast gets a note instead of a chart.
pub fn render_svg(
    title: &str,
    rows: &[Row],
    profile: &Profile,
    opts: &ProfileOptions,
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
                 outliers above the {} quantile (red), {} h forecast with its {:.0}% band (blue); UTC",
                opts.outlier_quantile,
                opts.horizon,
                opts.interval_width * 100.0
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
                        panel(cell, &caption, &all, points, opts.outlier_quantile)?;
                    }
                    None => {
                        cell.draw_text(
                            &format!("{protocol} {metric}: not forecast (see the warnings)"),
                            &("sans-serif", 15).into_font().color(&BLACK),
                            (20, 20),
                        )
                        .map_err(e)?;
                    }
                }
            }
        }
        root.present().map_err(e)?;
    }
    Ok(svg)
}

/// One protocol and metric: history, outliers, forecast and band.
fn panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    caption: &str,
    all: &Series,
    points: &[Point],
    q: f64,
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
    let ymax = if ymax > 0.0 { ymax * 1.05 } else { 1.0 };
    let (x0, x1) = (days(start), days(end.max(last_row) + HOUR_US));
    let mut chart = ChartBuilder::on(area)
        .caption(caption, ("sans-serif", 16))
        .margin(8)
        .margin_right(36)
        .x_label_area_size(28)
        .y_label_area_size(52)
        .build_cartesian_2d(x0..x1, 0.0..ymax)
        .map_err(e)?;
    chart
        .configure_mesh()
        .x_labels(4)
        .y_labels(5)
        .x_label_formatter(&|x| time_label(*x))
        .y_label_formatter(&|y| si(*y))
        .light_line_style(WHITE.mix(0.0))
        .bold_line_style(BLACK.mix(0.08))
        .label_style(("sans-serif", 12))
        .draw()
        .map_err(e)?;
    let band: Vec<(f64, f64)> = points
        .iter()
        .map(|p| (days(p.timestamp), p.upper))
        .chain(points.iter().rev().map(|p| (days(p.timestamp), p.lower)))
        .collect();
    chart
        .draw_series(std::iter::once(Polygon::new(
            band,
            FORECAST.mix(0.25).filled(),
        )))
        .map_err(e)?;
    chart
        .draw_series(LineSeries::new(history, HISTORY.stroke_width(1)))
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
    fn si_prefixes_and_utc_labels() {
        assert_eq!(si(0.0), "0");
        assert_eq!(si(950.0), "950");
        assert_eq!(si(16_037_231.7), "16.0M");
        assert_eq!(si(2_500.0), "2.50k");
        assert_eq!(si(3.2e9), "3.20G");
        assert_eq!(si(124e9), "124G");
        let t = 1_535_138_360_737_000; // 2018-08-24T19:19:20.737 UTC
        assert_eq!(time_label(days(t)), "08-24 19:19");
        assert_eq!(time_label(17767.0), "08-24 00:00");
    }
}
