//! Every lesson script runs unattended and its own final check passes.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::common::{Proc, TestDir, PFSLAB};

/// Runs `scenarios/SCRIPT` unattended in a fresh lab directory (its background jobs die with
/// it: the script leads the process group its guard kills).
fn run_lesson(script: &str) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = TestDir::new(&format!("lesson-{}", script.trim_end_matches(".sh")));
    let mut cmd = Command::new("bash");
    cmd.arg(root.join("scenarios").join(script))
        .env("PFSLAB", PFSLAB)
        .env("LAB_DIR", dir.join("lab"))
        .env("NO_COLOR", "1");
    let mut lesson = Proc::spawn(cmd);
    lesson.close_stdin();
    let done = lesson.finish(Duration::from_secs(120));
    let status = done.status;
    let output = format!("{}{}", done.stdout, done.stderr);
    assert!(status.success(), "{script} failed ({status}):\n{output}");
    assert!(
        output.contains("LESSON PASSED"),
        "{script} did not report its check:\n{output}"
    );
}

#[test]
fn lesson_00_what_crosses_the_wire() {
    run_lesson("00-what-crosses-the-wire.sh");
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

#[test]
fn lesson_07_four_session_keys() {
    run_lesson("07-four-session-keys.sh");
}

#[test]
fn lesson_08_textbook_diffie_hellman() {
    run_lesson("08-textbook-diffie-hellman.sh");
}

#[test]
fn lesson_09_the_ticket_key() {
    run_lesson("09-the-ticket-key.sh");
}

#[test]
fn lesson_10_tls13_resumption() {
    run_lesson("10-tls13-resumption.sh");
}

#[test]
fn lesson_11_what_forgetting_means() {
    run_lesson("11-what-forgetting-means.sh");
}

#[test]
fn lesson_12_after_the_theft() {
    run_lesson("12-after-the-theft.sh");
}

#[test]
fn lesson_13_the_group_was_the_backdoor() {
    run_lesson("13-the-group-was-the-backdoor.sh");
}

#[test]
fn lesson_14_the_oracle() {
    run_lesson("14-the-oracle.sh");
}

#[test]
fn lesson_15_harvest_now_decrypt_later() {
    run_lesson("15-harvest-now-decrypt-later.sh");
}
