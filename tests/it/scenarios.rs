//! Every lesson script runs unattended and its own final check passes.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn run_lesson(script: &str) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let lab_dir = std::env::temp_dir().join(format!(
        "pfslab-lesson-{}-{}",
        script.trim_end_matches(".sh"),
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&lab_dir);
    let log = lab_dir.with_extension("log");
    let log_file = std::fs::File::create(&log).unwrap();
    let mut child = Command::new("bash")
        .arg(root.join("scenarios").join(script))
        .env("PFSLAB", env!("CARGO_BIN_EXE_pfslab"))
        .env("LAB_DIR", &lab_dir)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(log_file.try_clone().unwrap())
        .stderr(log_file)
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{script} did not finish in 120 s; log: {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let output = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(status.success(), "{script} failed ({status}):\n{output}");
    assert!(
        output.contains("LESSON PASSED"),
        "{script} did not report its check:\n{output}"
    );
    let _ = std::fs::remove_dir_all(&lab_dir);
    let _ = std::fs::remove_file(&log);
}

#[test]
fn lesson_01_steal_the_key() {
    run_lesson("01-steal-the-key.sh");
}

#[test]
fn lesson_02_keylog_leak() {
    run_lesson("02-keylog-leak.sh");
}

#[test]
fn lesson_03_wrong_key() {
    run_lesson("03-wrong-key.sh");
}

#[test]
fn lesson_04_real_world() {
    run_lesson("04-real-world.sh");
}

#[test]
fn lesson_05_open_in_wireshark() {
    run_lesson("05-open-in-wireshark.sh");
}

#[test]
fn lesson_06_tls13() {
    run_lesson("06-tls13.sh");
}
