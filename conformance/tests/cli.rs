//! The `cinderbox-conformance` binary: last line, exit code, shrunk sequence, replay command
//! and JUnit report, on a clean emulator and on one with a planted bug.

use std::process::Command;

fn conformance(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_cinderbox-conformance"))
        .args(args)
        .output()
        .expect("binary runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

fn last_line(stdout: &str) -> &str {
    stdout.lines().last().unwrap_or_default()
}

#[test]
fn clean_run_passes_and_writes_junit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let junit = dir.path().join("junit.xml");
    let junit_arg = junit.to_str().expect("utf-8 path");
    let (code, stdout) = conformance(&[
        "--cases",
        "3",
        "--max-steps",
        "5",
        "--seed",
        "42",
        "--jobs",
        "3",
        "--no-persist",
        "--max-image-bytes",
        "4096",
        "--junit",
        junit_arg,
    ]);
    assert_eq!(
        (code, last_line(&stdout)),
        (0, "3 passed, 0 failed"),
        "{stdout}"
    );
    let xml = std::fs::read_to_string(&junit).expect("junit written");
    assert!(
        xml.contains("tests=\"3\" skipped=\"0\" failures=\"0\""),
        "{xml}"
    );
}

#[test]
fn planted_bug_fails_with_shrunk_sequence_and_replay_command() {
    let dir = tempfile::tempdir().expect("tempdir");
    let scenario = dir.path().join("bit-rot.toml");
    std::fs::write(
        &scenario,
        "description = \"bytes flip at rest\"\n[[rule]]\nid = \"rot\"\neffect = { bit_rot = 8, seed = 3 }\n",
    )
    .expect("scenario written");
    let regressions = dir.path().join("seeds.txt");
    let (code, stdout) = conformance(&[
        "--cases",
        "8",
        "--max-steps",
        "6",
        "--seed",
        "9",
        "--jobs",
        "2",
        "--max-image-bytes",
        "4096",
        "--max-shrink-iters",
        "16",
        "--scenario",
        scenario.to_str().expect("utf-8"),
        "--regressions",
        regressions.to_str().expect("utf-8"),
    ]);
    assert_eq!(code, 1, "{stdout}");
    assert!(
        last_line(&stdout).ends_with(" failed") && !last_line(&stdout).ends_with(" 0 failed"),
        "{stdout}"
    );
    assert!(
        stdout.contains("FAILURE of case") && stdout.contains("bytes differ"),
        "{stdout}"
    );
    assert!(
        stdout.contains("replay: cargo run --release -p cinderbox-conformance -- --scenario"),
        "{stdout}"
    );
    let seeds = std::fs::read_to_string(&regressions).expect("seed persisted");
    assert!(seeds.lines().any(|l| l.starts_with("cc 0x")), "{seeds}");
}
