//! A fresh temporary directory per test.

use std::path::{Path, PathBuf};

/// A fresh directory under the system temp dir (a `tempfile::TempDir`, like the unit tests'
/// `test_support::TempDir`), removed when the test passes and kept (with its path printed)
/// when it fails, for a look at keys, captures and logs.
pub struct TestDir(tempfile::TempDir);

impl TestDir {
    pub fn new(test: &str) -> TestDir {
        let dir = tempfile::Builder::new()
            .prefix(&format!("pfslab-test-{test}-"))
            .tempdir()
            .unwrap_or_else(|e| panic!("cannot create a temp dir for {test}: {e}"));
        TestDir(dir)
    }

    pub fn path(&self) -> &Path {
        self.0.path()
    }

    pub fn join(&self, name: &str) -> PathBuf {
        self.0.path().join(name)
    }

    /// Writes `bytes` to the file `name` in this directory; returns its path.
    pub fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.join(name);
        super::write(&path, bytes);
        path
    }
}

impl AsRef<Path> for TestDir {
    fn as_ref(&self) -> &Path {
        self.path()
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.disable_cleanup(true);
            eprintln!("test files kept in {}", self.0.path().display());
        }
    }
}
