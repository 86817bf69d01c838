//! `netprofile --plot`: one SVG per tag beside the profile. The test checks
//! the document's structure (panels, series, point counts), not pixels.

use std::fs;
use std::path::Path;

use crate::support::netprofile::{run, NOW};
use crate::util::{bin, list, temp_copy, text};

const STEM: &str = "profile-2026-01-02T03:04:05.123456";
/// Colours of plot.rs: forecast, history, outliers.
const FORECAST: &str = "#1F77B4";
const HISTORY: &str = "#8C8C8C";
const OUTLIER: &str = "#D62728";

/// numpy's linear quantile, written here independently of the library.
fn quantile(values: &[f64], q: f64) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let pos = (v.len() - 1) as f64 * q;
    let (i, t) = (pos.floor() as usize, pos - pos.floor());
    let j = (i + 1).min(v.len() - 1);
    v[i] + (v[j] - v[i]) * t
}

/// Rows of tag 1 above the 0.95 quantile of their protocol and metric
/// (tag 1 spans 5 days: all of it is within the plot's 7 days).
fn expected_outliers(data: &str) -> usize {
    let rows: Vec<Vec<&str>> = data
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect())
        .collect();
    let mut n = 0;
    for proto in ["1", "6", "17"] {
        for col in [0, 4, 3] {
            let v: Vec<f64> = rows
                .iter()
                .filter(|r| r[5] == proto)
                .map(|r| r[col].parse().unwrap())
                .collect();
            let q = quantile(&v, 0.95);
            n += v.iter().filter(|&&y| y > q).count();
        }
    }
    n
}

fn attr<'a>(n: &roxmltree::Node<'a, 'a>, name: &str) -> &'a str {
    n.attribute(name).unwrap_or("")
}

#[test]
fn plot_draws_every_series_beside_the_profile() {
    let root = temp_copy("netprofile/root");
    let out = run(root.path(), NOW, &["--plot", "-v"]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains(&format!("wrote {STEM}.json and {STEM}.svg")),
        "{stderr}"
    );
    let dir = root.path().join("1");
    assert_eq!(
        list(&dir),
        [
            "data.csv",
            "latest.json",
            "latest.svg",
            &format!("{STEM}.json"),
            &format!("{STEM}.svg")
        ]
    );
    assert_eq!(
        fs::read_link(dir.join("latest.svg")).unwrap(),
        Path::new(&format!("{STEM}.svg"))
    );

    let svg = fs::read_to_string(dir.join("latest.svg")).unwrap();
    let doc = roxmltree::Document::parse(&svg).expect("well-formed SVG");
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    let nodes: Vec<_> = doc.descendants().filter(|n| n.is_element()).collect();
    let texts: Vec<String> = nodes
        .iter()
        .filter(|n| n.tag_name().name() == "text")
        .map(|n| n.text().unwrap_or("").trim().to_string())
        .collect();
    for p in ["ICMP", "TCP", "UDP"] {
        for m in ["bytes", "packets", "flow_count"] {
            assert!(texts.contains(&format!("{p} {m}")), "no panel {p} {m}");
        }
    }
    // UTC dates with their year on the time axis, SI-scaled values.
    let dates = texts
        .iter()
        .filter(|t| t.len() == 10 && t.starts_with("2018-08-2") && t.as_bytes()[7] == b'-')
        .count();
    assert!(dates >= 9 * 2, "{texts:?}");
    assert!(texts.iter().any(|t| t.ends_with('G')) && texts.iter().any(|t| t.ends_with('M')));
    check_value_labels(&doc);
    let forecast: Vec<_> = nodes
        .iter()
        .filter(|n| n.tag_name().name() == "polyline" && attr(n, "stroke") == FORECAST)
        .collect();
    assert_eq!(forecast.len(), 9, "one forecast line per series");
    for f in &forecast {
        assert_eq!(attr(f, "points").split_whitespace().count(), 24, "24 h");
    }
    let bands = nodes
        .iter()
        .filter(|n| n.tag_name().name() == "polygon" && attr(n, "fill") == FORECAST)
        .count();
    assert_eq!(bands, 9, "one band per series");
    let history = nodes
        .iter()
        .filter(|n| n.tag_name().name() == "polyline" && attr(n, "stroke") == HISTORY)
        .count();
    assert_eq!(history, 9, "one history line per series");
    let outliers = nodes
        .iter()
        .filter(|n| n.tag_name().name() == "circle" && attr(n, "fill") == OUTLIER)
        .count();
    let data = fs::read_to_string(dir.join("data.csv")).unwrap();
    assert_eq!(outliers, expected_outliers(&data));
    assert!(outliers > 0);

    // Tag 3 has no ICMP: its panels say so, the others are drawn.
    let svg3 = fs::read_to_string(root.path().join("3/latest.svg")).unwrap();
    let doc3 = roxmltree::Document::parse(&svg3).unwrap();
    let texts3: Vec<&str> = doc3
        .descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter_map(|n| n.text())
        .map(str::trim)
        .collect();
    assert!(
        texts3.contains(&"ICMP bytes: not forecast: no rows"),
        "{texts3:?}"
    );
    let lines3 = doc3
        .descendants()
        .filter(|n| n.has_tag_name("polyline") && n.attribute("stroke") == Some(FORECAST))
        .count();
    assert_eq!(lines3, 6);
}

/// Each panel's value labels (right-aligned at one x) go up from `0` by
/// one step, all with the same SI prefix and the same decimals: `0.5M`,
/// `1.0M`, never `1.50M` beside `1M`.
fn check_value_labels(doc: &roxmltree::Document) {
    let mut axes: std::collections::BTreeMap<&str, Vec<&str>> = Default::default();
    for n in doc.descendants().filter(|n| n.has_tag_name("text")) {
        if attr(&n, "text-anchor") == "end" {
            axes.entry(attr(&n, "x"))
                .or_default()
                .push(n.text().unwrap_or("").trim());
        }
    }
    assert_eq!(axes.len(), 3, "one value axis per column: {axes:?}");
    let mut seen = 0;
    for labels in axes.values() {
        // Top to bottom in the document order of each panel: check in
        // groups that start at "0".
        for panel in labels.split(|l| *l == "0").filter(|p| !p.is_empty()) {
            let suffix = |l: &str| {
                l.trim_start_matches(|c: char| c.is_ascii_digit() || c == '.')
                    .to_string()
            };
            let decimals = |l: &str| {
                l.split_once('.')
                    .map_or(0, |(_, d)| d.len() - suffix(l).len())
            };
            let s0 = suffix(panel[0]);
            let d0 = decimals(panel[0]);
            let values: Vec<f64> = panel
                .iter()
                .map(|l| {
                    assert_eq!((suffix(l), decimals(l)), (s0.clone(), d0), "{panel:?}");
                    l[..l.len() - s0.len()].parse().unwrap()
                })
                .collect();
            let step = values[0];
            for (i, v) in values.iter().enumerate() {
                assert!((v - step * (i + 1) as f64).abs() < 1e-9, "{panel:?}");
            }
            seen += 1;
        }
    }
    assert_eq!(seen, 9, "{axes:?}");
}

/// `docs/netprofile-plot-tag1.svg` is this command's output on the shipped
/// data; `UPDATE_DOCS=1` rewrites it.
#[test]
fn docs_picture_is_current() {
    const DOCS: &str = "docs/netprofile-plot-tag1.svg";
    let root = temp_copy("netprofile/root");
    let out = bin("netprofile")
        .env("NETPROFILE_NOW", "2026-01-02T03:04:05")
        .env("TZ", "UTC")
        .args(["-q", "--plot", "--tag", "1"])
        .arg(root.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out).1);
    let svg = fs::read_to_string(root.path().join("1/latest.svg")).unwrap();
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(DOCS);
    if std::env::var_os("UPDATE_DOCS").is_some() {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, &svg).unwrap();
    }
    let committed = fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == svg,
        "{DOCS} is not the output of netprofile --plot on testdata/netprofile/root tag 1; \
         refresh it with: UPDATE_DOCS=1 cargo test --test integration docs_picture_is_current"
    );
}

#[test]
fn keep_prunes_pictures_with_their_profiles() {
    let root = temp_copy("netprofile/root");
    for now in ["2026-01-01T00:00:00", "2026-01-01T01:00:00"] {
        assert_eq!(
            run(root.path(), now, &["--tag", "3", "--plot"])
                .status
                .code(),
            Some(0)
        );
    }
    let out = run(
        root.path(),
        "2026-01-01T02:00:00",
        &["--tag", "3", "--plot", "--keep", "2"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out).1);
    let dir = root.path().join("3");
    assert_eq!(
        list(&dir),
        [
            "data.csv",
            "latest.json",
            "latest.svg",
            "profile-2026-01-01T01:00:00.json",
            "profile-2026-01-01T01:00:00.svg",
            "profile-2026-01-01T02:00:00.json",
            "profile-2026-01-01T02:00:00.svg",
        ]
    );
    assert_eq!(
        fs::read_link(dir.join("latest.svg")).unwrap(),
        Path::new("profile-2026-01-01T02:00:00.svg")
    );
}

#[test]
fn a_failed_write_leaves_no_picture() {
    let root = temp_copy("netprofile/root");
    let dir = root.path().join("1");
    fs::create_dir(dir.join("latest.json")).unwrap();
    let before = list(&dir);
    let out = run(root.path(), NOW, &["--plot", "--tag", "1"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(list(&dir), before);
}

#[test]
fn plot_is_refused_with_evaluate() {
    let root = temp_copy("netprofile/root");
    assert_eq!(
        run(root.path(), NOW, &["--plot", "--evaluate"])
            .status
            .code(),
        Some(2)
    );
}
