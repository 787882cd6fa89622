//! Why a script failed, said once: file, line, column and cause, with the trail of script
//! functions the failure came through.

use std::fmt;

use rhai::{EvalAltResult, ParseError, Position};

use super::values::{describe_fault, show};

/// A failed script: where and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The script's path as the user gave it.
    pub file: String,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// 1-based column, when known.
    pub column: Option<usize>,
    /// What went wrong.
    pub cause: String,
    /// The script functions the failure passed through, innermost first.
    pub trail: Vec<String>,
}

impl Failure {
    /// A failure with no position (the file cannot be read, the kernel cannot boot).
    pub fn plain(file: &str, cause: impl Into<String>) -> Self {
        Self {
            file: file.to_string(),
            line: None,
            column: None,
            cause: cause.into(),
            trail: Vec::new(),
        }
    }

    /// A syntax error.
    pub fn parse(file: &str, err: &ParseError) -> Self {
        let mut f = Self::plain(file, format!("syntax error: {}", err.err_type()));
        f.locate(err.position());
        f
    }

    /// A runtime failure: an uncaught throw or fault, a failed assertion, a misuse.
    pub fn eval(file: &str, err: &EvalAltResult, known: &dyn Fn(&str) -> Option<String>) -> Self {
        let mut err = err;
        let mut trail = Vec::new();
        // Descend to the error that started it; remember the functions on the way.
        while let EvalAltResult::ErrorInFunctionCall(name, _, inner, pos) = err {
            trail.push(format!("in function {name}(), called at {}", at(*pos)));
            err = inner;
        }
        trail.reverse();
        if let EvalAltResult::ErrorTerminated(limit, pos) = err {
            // A timeout leads the line (`FAIL name: timed out after 10 s`); where the
            // script was when it was stopped follows.
            let secs = limit.as_float().unwrap_or_default();
            let mut f = Self::plain(
                file,
                format!("timed out after {secs} s (stopped at {})", at(*pos)),
            );
            f.trail = trail;
            return f;
        }
        let mut f = Self::plain(file, cause(err, known));
        f.trail = trail;
        f.locate(err.position());
        f
    }

    fn locate(&mut self, pos: Position) {
        self.line = pos.line();
        self.column = pos.position();
    }

    /// `line 3, column 5: cause (in function f(), …)` on one line, for `cevm check`.
    pub fn one_line(&self) -> String {
        let mut s = match (self.line, self.column) {
            (Some(l), Some(c)) => format!("line {l}, column {c}: {}", self.cause),
            (Some(l), None) => format!("line {l}: {}", self.cause),
            _ => self.cause.clone(),
        };
        for t in &self.trail {
            s.push_str(&format!(" ({t})"));
        }
        s.replace('\n', " ")
    }
}

/// `file:line:column: cause`, then the trail one step a line.
impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(l) = self.line {
            write!(f, ":{l}")?;
            if let Some(c) = self.column {
                write!(f, ":{c}")?;
            }
        }
        write!(f, ": {}", self.cause)?;
        for t in &self.trail {
            write!(f, "\n  {t}")?;
        }
        Ok(())
    }
}

fn at(pos: Position) -> String {
    match (pos.line(), pos.position()) {
        (Some(l), Some(c)) => format!("line {l}, column {c}"),
        (Some(l), None) => format!("line {l}"),
        _ => "an unknown place".to_string(),
    }
}

/// The cause in words. `known` gives the signatures of a bound function by name, so a
/// call with the wrong number of arguments says what the function takes.
fn cause(err: &EvalAltResult, known: &dyn Fn(&str) -> Option<String>) -> String {
    match err {
        EvalAltResult::ErrorRuntime(v, _) => {
            if let Some(fault) = describe_fault(v) {
                fault
            } else if v.is_string() {
                v.clone().into_string().unwrap_or_default()
            } else {
                format!("uncaught throw: {}", show(v))
            }
        }
        EvalAltResult::ErrorFunctionNotFound(sig, _) => {
            let name = sig.split([' ', '(']).next().unwrap_or_default();
            match known(name) {
                Some(takes) => format!("no function {sig}; {takes}"),
                None => format!("no function {sig}"),
            }
        }
        EvalAltResult::ErrorParsing(p, _) => format!("syntax error: {p}"),
        EvalAltResult::ErrorDataTooLarge(what, _) => {
            let limit = if what.starts_with("Length of string") {
                format!("{} MiB", super::limits::STRING_BYTES >> 20)
            } else if what.contains("map") {
                format!("{} entries", super::limits::MAP_ENTRIES)
            } else {
                format!("{} elements or bytes", super::limits::ARRAY_ELEMENTS)
            };
            format!("{what} over the script limit of {limit}")
        }
        EvalAltResult::ErrorStackOverflow(_) => format!(
            "too many nested function calls (the limit is {})",
            super::limits::CALL_LEVELS
        ),
        other => {
            // The position is reported separately; drop Rhai's " (line 1, position 2)".
            let text = other.to_string();
            let suffix = format!(" ({})", other.position());
            text.strip_suffix(&suffix).unwrap_or(&text).to_string()
        }
    }
}
