//! Every C program in tests/c/ and examples/c/ builds with the build line of c-abi.md
//! (against the libcevm this test run built) and passes: exit 0, or the exit status and
//! stderr text its `// expect-exit:` / `// expect-stderr:` lines name. Each also passes
//! built with AddressSanitizer (and LeakSanitizer at exit) with no report.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The directory holding the libcevm.so built with this test binary.
fn lib_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let deps = exe.parent().unwrap().to_path_buf();
    assert!(
        deps.join("libcevm.so").exists(),
        "no libcevm.so next to the test binary in {}",
        deps.display()
    );
    deps
}

struct Expect {
    exit: i32,
    stderr: Vec<String>,
}

fn expectations(src: &str) -> Expect {
    let mut e = Expect {
        exit: 0,
        stderr: Vec::new(),
    };
    for line in src.lines() {
        if let Some(v) = line.trim().strip_prefix("// expect-exit:") {
            e.exit = v.trim().parse().expect("expect-exit is a number");
        } else if let Some(v) = line.trim().strip_prefix("// expect-stderr:") {
            e.stderr.push(v.trim().to_string());
        }
    }
    e
}

/// How a program is built.
#[derive(Clone, Copy, PartialEq)]
enum Build {
    /// The build line of c-abi.md.
    Plain,
    /// The same with AddressSanitizer; run with cevm's fault handler allowed to take
    /// SIGSEGV (it chains to ASan's for faults outside every window).
    Asan,
}

const ASAN_FLAGS: [&str; 2] = ["-fsanitize=address", "-fno-omit-frame-pointer"];
const ASAN_OPTIONS: &str = "allow_user_segv_handler=1:detect_leaks=1:abort_on_error=0";

/// Builds and runs one program; `Err` says what went wrong.
fn run(c: &Path, build: Build) -> Result<(), String> {
    let name = c.file_stem().unwrap().to_string_lossy().into_owned();
    let out_dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("c");
    std::fs::create_dir_all(&out_dir).unwrap();
    let exe = out_dir.join(match build {
        Build::Plain => name.clone(),
        Build::Asan => format!("{name}-asan"),
    });
    let extra: &[&str] = match build {
        Build::Plain => &[],
        Build::Asan => &ASAN_FLAGS,
    };
    let lib = lib_dir();
    let r = root();
    let mut cmd = Command::new("gcc");
    cmd.args(["-std=gnu11", "-Wall", "-Werror", "-g"])
        .arg(format!("-I{}", r.join("include").display()))
        .arg(format!("-I{}", r.join("include/ce").display()))
        .args(extra)
        .arg(c)
        .arg(format!("-L{}", lib.display()))
        .arg("-lcevm")
        .arg(format!("-Wl,-rpath,{}", lib.display()))
        .arg("-o")
        .arg(&exe);
    let built = cmd
        .output()
        .map_err(|e| format!("{name}: cannot run gcc: {e}"))?;
    if !built.status.success() {
        return Err(format!(
            "{name}: gcc failed:\n{}",
            String::from_utf8_lossy(&built.stderr)
        ));
    }
    let src = std::fs::read_to_string(c).unwrap();
    let want = expectations(&src);
    let mut child = Command::new(&exe)
        .env("ASAN_OPTIONS", ASAN_OPTIONS)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("{name}: cannot start: {e}"))?;
    let start = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if start.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            return Err(format!("{name}: still running after 120 s"));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let code = out.status.code();
    if code != Some(want.exit) {
        return Err(format!(
            "{name}: exit {code:?}, expected {}\nstdout:\n{}\nstderr:\n{stderr}",
            want.exit,
            String::from_utf8_lossy(&out.stdout)
        ));
    }
    for s in &want.stderr {
        if !stderr.contains(s.as_str()) {
            return Err(format!("{name}: stderr lacks {s:?}:\n{stderr}"));
        }
    }
    if build == Build::Asan && stderr.contains("Sanitizer") {
        return Err(format!("{name}: a sanitizer reported:\n{stderr}"));
    }
    Ok(())
}

fn programs(dir: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(root().join(dir))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "c"))
        .collect();
    v.sort();
    v
}

#[test]
fn every_program_in_tests_c_builds_with_the_abi_build_line_and_passes() {
    let progs = programs("tests/c");
    assert!(progs.len() >= 10, "tests/c holds {} programs", progs.len());
    let failures: Vec<String> = progs
        .iter()
        .filter_map(|p| run(p, Build::Plain).err())
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn the_c_example_driver_story_builds_and_runs() {
    let progs = programs("examples/c");
    assert!(!progs.is_empty());
    let failures: Vec<String> = progs
        .iter()
        .filter_map(|p| run(p, Build::Plain).err())
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn every_c_program_passes_under_address_sanitizer_with_no_report() {
    let mut progs = programs("tests/c");
    progs.extend(programs("examples/c"));
    let failures: Vec<String> = progs
        .iter()
        .filter_map(|p| run(p, Build::Asan).err())
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// The sanitizer run is not vacuous: a program that boots libcevm and then overflows a
/// heap buffer of its own is reported (by name) under the same build and options.
#[test]
fn address_sanitizer_reports_an_overflow_in_a_program_using_libcevm() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("c-control");
    std::fs::create_dir_all(&dir).unwrap();
    let src = dir.join("heap_overflow_control.c");
    std::fs::write(
        &src,
        "#include <stdlib.h>\n#include <cevm.h>\n\
         int main(void) {\n\
         \x20   if (cevm_boot(NULL) != 0) return 2;\n\
         \x20   volatile char *p = malloc(16);\n\
         \x20   p[16] = 1;\n\
         \x20   free((void *)p);\n\
         \x20   return 0;\n}\n",
    )
    .unwrap();
    let err = run(&src, Build::Asan).expect_err("the overflow must be reported");
    assert!(err.contains("heap-buffer-overflow"), "{err}");
}
