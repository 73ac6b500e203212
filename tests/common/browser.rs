//! A real browser: Debian's `chromium`, headless, with a fresh profile per run and the network
//! off, loading a local page. Each run is a [`Proc`], so chromium and every helper process it
//! forks (zygote, renderer, GPU) are killed and reaped with the guard, even if a test panics.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use super::{path_str, require_tool, Finished, Proc, TestDir};

/// Chromium starts slowly on a busy two-core machine; a page of a few sessions renders in a
/// second or two.
pub const BROWSER_TIMEOUT: Duration = Duration::from_secs(90);

/// Runs `chromium --headless` on `page` with `args` (`--dump-dom`, `--screenshot=…`); must
/// exit 0.
pub fn chromium(page: &Path, args: &[&str]) -> Finished {
    require_tool("chromium", "chromium");
    let profile = TestDir::new("chromium-profile");
    let abs = std::fs::canonicalize(page).unwrap_or_else(|e| panic!("{}: {e}", page.display()));
    let mut cmd = Command::new("chromium");
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--no-default-browser-check",
        // The network is off: no name resolves, and every request goes to a dead proxy.
        "--host-resolver-rules=MAP * ~NOTFOUND",
        "--proxy-server=127.0.0.1:9",
    ])
    .arg(format!("--user-data-dir={}", path_str(profile.path())))
    .args(args)
    .arg(format!("file://{}", path_str(&abs)))
    // Nothing of the test's user leaks in, nothing is left in its home.
    .env("HOME", profile.path())
    .env_remove("DISPLAY")
    .env_remove("WAYLAND_DISPLAY");
    let mut p = Proc::spawn(cmd);
    p.close_stdin();
    let done = p.finish(BROWSER_TIMEOUT);
    assert!(
        done.status.success(),
        "chromium {args:?} on {}: {}",
        page.display(),
        done.describe()
    );
    done
}

/// The DOM chromium built from `page`, serialised after load.
pub fn chromium_dump_dom(page: &Path) -> String {
    let done = chromium(page, &["--dump-dom"]);
    assert!(
        done.stdout.contains("</html>"),
        "chromium --dump-dom printed no document: {}",
        done.describe()
    );
    done.stdout
}

/// A `width`×`height` screenshot of `page` as PNG bytes.
pub fn chromium_screenshot(page: &Path, out: &Path, width: u32, height: u32) -> Vec<u8> {
    let _ = std::fs::remove_file(out);
    let done = chromium(
        page,
        &[
            &format!("--screenshot={}", path_str(out)),
            &format!("--window-size={width},{height}"),
            "--hide-scrollbars",
        ],
    );
    std::fs::read(out).unwrap_or_else(|e| {
        panic!(
            "no screenshot at {}: {e}; {}",
            out.display(),
            done.describe()
        )
    })
}

/// Width and height from a PNG's IHDR chunk (RFC 2083 §4.1.1), if `png` is a PNG.
pub fn png_size(png: &[u8]) -> Option<(u32, u32)> {
    const SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";
    if !png.starts_with(SIGNATURE) || png.get(12..16)? != b"IHDR" {
        return None;
    }
    let be = |at: usize| -> Option<u32> {
        Some(u32::from_be_bytes(png.get(at..at + 4)?.try_into().ok()?))
    };
    Some((be(16)?, be(20)?))
}
