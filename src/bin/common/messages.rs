//! Error messages on one line, each cause said once (shared by both
//! binaries).

/// `e` and its causes joined by `: `, leaving out a cause whose text the
/// line already holds (a library error that quotes its `source` in its
/// message, an I/O error its context quotes), which `{e:#}` would repeat.
pub fn chain(e: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if text.is_empty() || line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
}

#[cfg(test)]
mod tests {
    use super::chain;

    #[test]
    fn each_cause_is_said_once() {
        let io = std::io::Error::from(std::io::ErrorKind::NotFound);
        let text = io.to_string();
        // A message that quotes its cause, as thiserror's `{source}` does.
        #[derive(Debug)]
        struct Quoting(std::io::Error);
        impl std::fmt::Display for Quoting {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "cannot write x: {}", self.0)
            }
        }
        impl std::error::Error for Quoting {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                Some(&self.0)
            }
        }
        let e = anyhow::Error::new(Quoting(io)).context("--summary-json");
        assert_eq!(chain(&e), format!("--summary-json: cannot write x: {text}"));
        let plain = anyhow::anyhow!("a").context("b").context("c");
        assert_eq!(chain(&plain), "c: b: a");
    }
}
