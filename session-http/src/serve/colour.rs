//! Whether log lines on stderr may carry ANSI colour codes: the one decision every binary of
//! the workspace makes the same way.

use std::ffi::OsStr;
use std::io::IsTerminal;

/// Whether logs written to stderr should be coloured: only when stderr is a terminal and the
/// `NO_COLOR` environment variable is unset or empty (<https://no-color.org>). Logs piped to
/// a file, a journal or another program never carry escape codes.
///
/// ```
/// let colour = session_http::serve::use_colour();
/// // tracing_subscriber::fmt().with_ansi(colour) …
/// # let _ = colour;
/// ```
pub fn use_colour() -> bool {
    colour_wanted(
        std::io::stderr().is_terminal(),
        std::env::var_os("NO_COLOR").as_deref(),
    )
}

/// The rule behind [`use_colour`], over what it reads: a terminal, and `NO_COLOR` absent or
/// empty (any other value, `0` included, asks for no colour).
fn colour_wanted(stderr_is_terminal: bool, no_color: Option<&OsStr>) -> bool {
    stderr_is_terminal && no_color.is_none_or(OsStr::is_empty)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        assert!(colour_wanted(true, None));
        assert!(colour_wanted(true, Some(OsStr::new(""))));
        assert!(!colour_wanted(true, Some(OsStr::new("1"))));
        assert!(!colour_wanted(true, Some(OsStr::new("0"))));
        assert!(!colour_wanted(false, None));
        assert!(!colour_wanted(false, Some(OsStr::new(""))));
    }
}
