//! `cevm shell [--ram MB]`: an interactive prompt with the script functions.
//!
//! Each input runs at once; variables and functions stay for the next one. A statement
//! left open (`for … {`) continues on the next line. An error is printed and the session
//! goes on. With a terminal the prompt has line editing and history (kept in
//! `~/.cevm_history`); with piped input it reads plain lines without prompting, so the
//! shell can be scripted.
//!
//! Input is bounded: a line longer than [`MAX_LINE_BYTES`] ends the shell with an error
//! (`cevm shell < /dev/zero` stops at once instead of reading forever), an input left open
//! across lines is dropped with an error past [`MAX_INPUT_BYTES`], and a line that is not
//! UTF-8 is reported and skipped.

use std::io::{BufRead, IsTerminal, Read as _};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use rhai::{AST, Scope};
use rustyline::DefaultEditor;
use rustyline::error::ReadlineError;

use super::Machine;
use crate::maps::{render_all, render_process};
use crate::out::{self, errln, outln};
use crate::script::{self, Kind, Options, Script, show};

/// Arguments of `cevm shell`.
#[derive(Debug, Args)]
pub struct ShellArgs {
    #[command(flatten)]
    pub machine: Machine,
}

/// The longest input line read.
pub const MAX_LINE_BYTES: usize = 1 << 20;

/// The longest input gathered across lines (a statement left open).
pub const MAX_INPUT_BYTES: usize = 16 << 20;

/// What reading the input gave.
enum Read {
    Line(String),
    /// A line that could not be taken; the message says why, the session goes on.
    Skipped(String),
    /// The input cannot go on (a line without end); the message says why.
    Fatal(String),
    /// Ctrl-C: drop what was typed so far, keep the session.
    Cancel,
    End,
}

/// Where input lines come from.
enum Input {
    Terminal(Box<DefaultEditor>, Option<PathBuf>),
    Piped(std::io::StdinLock<'static>, usize),
}

impl Input {
    fn open() -> Self {
        let stdin = std::io::stdin();
        if !stdin.is_terminal() {
            return Input::Piped(stdin.lock(), 0);
        }
        match DefaultEditor::new() {
            Ok(mut editor) => {
                let history =
                    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cevm_history"));
                if let Some(h) = &history {
                    let _ = editor.load_history(h);
                }
                Input::Terminal(Box::new(editor), history)
            }
            Err(_) => Input::Piped(stdin.lock(), 0),
        }
    }

    /// The next line.
    fn read(&mut self, prompt: &str) -> Read {
        match self {
            Input::Terminal(editor, _) => match editor.readline(prompt) {
                Ok(line) => {
                    if !line.trim().is_empty() {
                        let _ = editor.add_history_entry(line.as_str());
                    }
                    Read::Line(line)
                }
                Err(ReadlineError::Interrupted) => Read::Cancel,
                Err(ReadlineError::Eof) => Read::End,
                Err(ReadlineError::Io(e)) if e.kind() == std::io::ErrorKind::InvalidData => {
                    Read::Skipped("the line is not UTF-8 text; skipped".to_string())
                }
                Err(_) => Read::End,
            },
            Input::Piped(lines, number) => {
                *number += 1;
                piped_line(lines, *number)
            }
        }
    }

    fn close(self) {
        if let Input::Terminal(mut editor, Some(history)) = self {
            let _ = editor.save_history(&history);
        }
    }
}

/// The next line of piped input, read with a bound.
fn piped_line(input: &mut impl BufRead, number: usize) -> Read {
    let mut bytes = Vec::new();
    match input
        .take(MAX_LINE_BYTES as u64 + 1)
        .read_until(b'\n', &mut bytes)
    {
        Ok(0) => return Read::End,
        Ok(_) => {}
        Err(e) => return Read::Fatal(format!("cannot read line {number}: {e}")),
    }
    if bytes.last() == Some(&b'\n') {
        bytes.pop();
    } else if bytes.len() > MAX_LINE_BYTES {
        return Read::Fatal(format!(
            "line {number} is longer than {} MiB; the shell stops",
            MAX_LINE_BYTES >> 20
        ));
    }
    if bytes.last() == Some(&b'\r') {
        bytes.pop();
    }
    match String::from_utf8(bytes) {
        Ok(line) => Read::Line(line),
        Err(e) => Read::Skipped(format!(
            "line {number} is not UTF-8 text (byte {} is not); skipped",
            e.utf8_error().valid_up_to() + 1
        )),
    }
}

/// Runs the prompt until end of input or `:quit`.
pub fn execute(args: ShellArgs) -> ExitCode {
    let script = match Script::new(&Options::new(args.machine.ram_mb)) {
        Ok(s) => s,
        Err(e) => {
            errln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut input = Input::open();
    if matches!(input, Input::Terminal(..)) {
        outln!("cevm shell: NK.EXE, kernel mode. :help lists the functions, :quit leaves.");
    }
    let mut scope = Scope::new();
    let mut functions = AST::empty();
    let mut pending = String::new();
    let mut code = ExitCode::SUCCESS;
    loop {
        let prompt = if pending.is_empty() {
            "cevm> "
        } else {
            "  ... "
        };
        let line = match input.read(prompt) {
            Read::Line(line) => line,
            Read::Cancel => {
                pending.clear();
                continue;
            }
            Read::Skipped(why) => {
                errln!("error: {why}");
                continue;
            }
            Read::Fatal(why) => {
                errln!("error: {why}");
                code = ExitCode::FAILURE;
                pending.clear();
                break;
            }
            Read::End => break,
        };
        if pending.is_empty() && line.trim_start().starts_with(':') {
            if !command(line.trim(), &script) {
                break;
            }
            continue;
        }
        if pending.len() + line.len() >= MAX_INPUT_BYTES {
            errln!(
                "error: the input is longer than {} MiB; dropped",
                MAX_INPUT_BYTES >> 20
            );
            pending.clear();
            continue;
        }
        pending.push_str(&line);
        pending.push('\n');
        if is_open(&pending) {
            continue;
        }
        evaluate(&script, &mut scope, &mut functions, &pending);
        pending.clear();
    }
    if !pending.trim().is_empty() {
        evaluate(&script, &mut scope, &mut functions, &pending);
    }
    input.close();
    code
}

/// Runs one input with the functions defined so far, prints its value, keeps its
/// functions.
fn evaluate(script: &Script, scope: &mut Scope<'static>, functions: &mut AST, source: &str) {
    let ast = match script.compile("<shell>", source, scope) {
        Ok(a) => a,
        Err(f) => {
            errln!("error: {}", f.one_line());
            return;
        }
    };
    let run = functions.merge(&ast);
    *functions = functions.merge(&ast.clone_functions_only());
    match script.eval("<shell>", scope, &run) {
        Ok(v) if v.is_unit() => {}
        Ok(v) if v.is_string() => {
            out::line(v.into_string().unwrap_or_default().trim_end_matches('\n'))
        }
        Ok(v) => out::line(&show(&v)),
        Err(f) => errln!("error: {}", f.one_line()),
    }
}

/// Whether brackets are left open, outside string literals: the input goes on.
fn is_open(source: &str) -> bool {
    let mut depth = 0i32;
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for ch in source.chars() {
        match quote {
            Some(q) => {
                if escaped {
                    escaped = false;
                } else if ch == '\\' {
                    escaped = true;
                } else if ch == q {
                    quote = None;
                }
            }
            None => match ch {
                '"' | '`' | '\'' => quote = Some(ch),
                '(' | '[' | '{' => depth += 1,
                ')' | ']' | '}' => depth -= 1,
                _ => {}
            },
        }
    }
    depth > 0
}

/// A `:command`; returns false to leave the shell.
fn command(line: &str, script: &Script) -> bool {
    let mut words = line.split_whitespace();
    match (words.next().unwrap_or_default(), words.next()) {
        (":quit" | ":q" | ":exit", _) => return false,
        (":help" | ":h", _) => out::text(&help()),
        (":maps", None) => out::text(&render_all(&script.kernel())),
        (":maps", Some(pid)) => match parse_int(pid) {
            Some(pid) => match render_process(&script.kernel(), cevm::Pid(pid)) {
                Some(text) => out::text(&text),
                None => errln!("error: no live process has id {pid:#X}"),
            },
            None => errln!("error: :maps takes a process id, not {pid:?}"),
        },
        (other, _) => errln!("error: unknown command {other} (try :help)"),
    }
    true
}

fn parse_int(s: &str) -> Option<u32> {
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(h) => u32::from_str_radix(h, 16).ok(),
        None => s.parse().ok(),
    }
}

/// The `:help` text, built from the binding tables so it cannot drift from them.
fn help() -> String {
    let mut s = String::from(
        "Type Rhai statements; each input runs at once and variables stay.\n\
         Commands: :help  :maps [pid]  :quit\n\
         Integers are DWORDs (-1 is 0xFFFFFFFF); calls with out-parameters return #{ret, …}.\n",
    );
    for (title, kind) in [("CE calls", Kind::Ce), ("Harness", Kind::Harness)] {
        s.push_str(&format!("\n{title}:\n"));
        for b in script::bindings().filter(|b| b.kind == kind) {
            s.push_str(&format!("  {:<52} -> {}\n", b.signature(), b.returns));
        }
    }
    s.push_str("\nConstants:\n");
    let mut line = String::from(" ");
    for (name, _) in script::constant_list() {
        if line.len() + name.len() > 88 {
            s.push_str(&line);
            s.push('\n');
            line = String::from(" ");
        }
        line.push(' ');
        line.push_str(name);
    }
    s.push_str(&line);
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::is_open;

    #[test]
    fn open_brackets_continue_the_input_but_brackets_in_strings_do_not() {
        assert!(is_open("for x in [1, 2] {\n"));
        assert!(!is_open("for x in [1, 2] { print(x) }\n"));
        assert!(!is_open("print(\"{\")\n"));
    }
}
