//! `--html`: one static, self-contained overview page of every tag (no
//! scripts, no fetches): tags with open episodes first, each with its
//! picture inline (`latest.svg`, when the profile run drew one), its episodes and
//! the times of its last profile and check; the others in a compact table
//! linking to their pictures.

use std::fmt::Write as _;
use std::fs;
use std::path::Path;

use super::episode::Open;
use super::profiles::ProfileFiles;
use super::state;
use crate::netprofile::discover::Tag;
use crate::netprofile::error::Error;
use crate::netprofile::output::replace_atomically;
use crate::netprofile::time::format_timestamp;
use crate::netprofile::write::LATEST_SVG;

/// What the page shows of one tag.
#[derive(Debug, Clone)]
pub(crate) struct TagView {
    /// The tag's name.
    pub name: String,
    /// Why its check failed, if it did.
    pub error: Option<String>,
    /// Its open episodes (protocol key, episode).
    pub open: Vec<(String, Open)>,
    /// The newest profile's time (UTC as named).
    pub last_profile: Option<i64>,
    /// The last check's clock (UTC).
    pub last_check: Option<i64>,
    /// Its picture's markup, for tags with open episodes.
    pub svg: Option<String>,
    /// Whether `latest.svg` exists.
    pub has_svg: bool,
}

/// Reads what the page shows of `tag` (`error`: its check's failure).
pub(crate) fn tag_view(tag: &Tag, error: Option<String>) -> TagView {
    let st = state::load(&tag.dir).ok().flatten();
    let open: Vec<(String, Open)> = st
        .as_ref()
        .map(|s| {
            s.protocols
                .iter()
                .filter_map(|(k, p)| p.tracker.open.clone().map(|o| (k.clone(), o)))
                .collect()
        })
        .unwrap_or_default();
    let svg_path = tag.dir.join(LATEST_SVG);
    let has_svg = svg_path.is_file();
    let svg = (!open.is_empty() && has_svg)
        .then(|| fs::read_to_string(&svg_path).ok())
        .flatten()
        .filter(|s| s.trim_start().starts_with("<svg"));
    TagView {
        name: tag.name.clone(),
        error,
        open,
        last_profile: ProfileFiles::list(&tag.dir).ok().and_then(|f| f.newest()),
        last_check: st.and_then(|s| s.last_check),
        svg,
        has_svg,
    }
}

/// `&`, `<`, `>`, `"` escaped.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn time(t: Option<i64>) -> String {
    t.map_or_else(
        || "never".to_string(),
        |t| format!("{} UTC", format_timestamp(t)),
    )
}

const STYLE: &str = "body{font-family:sans-serif;margin:1em;color:#222}\
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 8px;text-align:left}\
.out{border:2px solid #FF7F0E;padding:.5em;margin:1em 0}.err{color:#b00}\
.pic svg{max-width:100%;height:auto}";

/// The page: `views` (any order; shown out-of-profile and failed first,
/// then by tag number), `generated` the check's clock (UTC), `link(tag)`
/// the href of a tag's `latest.svg`.
pub(crate) fn render(views: &[TagView], generated: i64, link: &dyn Fn(&str) -> String) -> String {
    let mut order: Vec<&TagView> = views.iter().collect();
    let num = |v: &TagView| {
        v.name
            .trim_start_matches('0')
            .parse::<u128>()
            .unwrap_or(u128::MAX)
    };
    order.sort_by_key(|v| {
        (
            v.open.is_empty() && v.error.is_none(),
            num(v),
            v.name.clone(),
        )
    });
    let flagged = order
        .iter()
        .filter(|v| !v.open.is_empty() || v.error.is_some());
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>netprofile overview</title><style>{STYLE}</style></head><body>\n\
         <h1>netprofile: {} tag(s), {} out of profile, {} failed</h1>\n<p>Checked at {}.</p>\n",
        views.len(),
        views.iter().filter(|v| !v.open.is_empty()).count(),
        views.iter().filter(|v| v.error.is_some()).count(),
        time(Some(generated))
    );
    for v in flagged {
        let _ = writeln!(
            h,
            "<section class=\"out\" id=\"tag-{0}\"><h2>tag {0}</h2>",
            esc(&v.name)
        );
        if let Some(e) = &v.error {
            let _ = writeln!(h, "<p class=\"err\">check failed: {}</p>", esc(e));
        }
        for (proto, o) in &v.open {
            let _ = writeln!(
                h,
                "<p>{} {} its profile since {} UTC ({} h, severity {:.2})</p>",
                esc(proto),
                o.direction.key(),
                format_timestamp(o.start),
                o.hours,
                o.peak.severity
            );
        }
        let _ = writeln!(
            h,
            "<p>last profile {}, last check {}</p>",
            time(v.last_profile),
            time(v.last_check)
        );
        if let Some(svg) = &v.svg {
            let _ = writeln!(h, "<div class=\"pic\">{svg}</div>");
        }
        h.push_str("</section>\n");
    }
    h.push_str(
        "<h2>All tags</h2>\n<table><tr><th>tag</th><th>open episodes</th>\
                <th>last profile</th><th>last check</th><th>picture</th></tr>\n",
    );
    for v in &order {
        let pic = if v.has_svg {
            format!("<a href=\"{}\">latest.svg</a>", esc(&link(&v.name)))
        } else {
            "none (profiles written without a picture)".to_string()
        };
        let _ = writeln!(
            h,
            "<tr id=\"row-{0}\"><td>{0}</td><td>{1}</td><td>{2}</td><td>{3}</td><td>{pic}</td></tr>",
            esc(&v.name),
            if v.error.is_some() { "check failed".to_string() } else { v.open.len().to_string() },
            time(v.last_profile),
            time(v.last_check),
        );
    }
    h.push_str("</table>\n</body></html>\n");
    h
}

/// The href of `root/<tag>/latest.svg` from a page written at `page`:
/// relative when the page is in `root`, else an absolute `file://` URL.
pub(crate) fn svg_link(root: &Path, page: &Path, tag: &str) -> String {
    let canon = |p: &Path| fs::canonicalize(p).ok();
    let page_dir = page
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if canon(page_dir).is_some() && canon(page_dir) == canon(root) {
        return format!("{tag}/{LATEST_SVG}");
    }
    let abs = canon(root).unwrap_or_else(|| root.to_path_buf());
    format!("file://{}/{tag}/{LATEST_SVG}", abs.display())
}

/// Writes the overview page of `tags` (each with its check's failure, if
/// any) to `page`, replaced atomically; `root` is the data root (the
/// pictures are linked relative to it when the page is in it). `now_utc`:
/// the page's time.
pub fn write_overview(
    root: &Path,
    page: &Path,
    tags: &[(&Tag, Option<String>)],
    now_utc: i64,
) -> Result<(), Error> {
    let views: Vec<TagView> = tags.iter().map(|(t, e)| tag_view(t, e.clone())).collect();
    let link = |tag: &str| svg_link(root, page, tag);
    replace_atomically(page, render(&views, now_utc, &link).as_bytes())
}
