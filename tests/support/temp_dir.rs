//! A fresh directory for one test, removed when the test is done.

use std::path::{Path, PathBuf};

/// A fresh directory under the temp dir, named with the test binary, `name` and the
/// pid, and canonical (the temp dir may sit behind a symlink, and `canonicalize` results
/// must compare equal to paths made from it); removed by `Drop`.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        TempDir::under(&std::env::temp_dir(), name)
    }

    /// As [`new`](Self::new), under cargo's target directory instead: a real filesystem,
    /// for what tmpfs refuses (O_DIRECT).
    pub fn on_disk(name: &str) -> TempDir {
        TempDir::under(Path::new(env!("CARGO_TARGET_TMPDIR")), name)
    }

    fn under(parent: &Path, name: &str) -> TempDir {
        let exe = std::env::current_exe().expect("current_exe");
        let binary = exe
            .file_stem()
            .and_then(|s| s.to_str())
            .and_then(|s| s.split('-').next())
            .unwrap_or("test")
            .to_string();
        let path = parent.join(format!("ringio-{binary}-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create the test directory");
        TempDir(
            path.canonicalize()
                .expect("canonicalize the test directory"),
        )
    }

    /// `file` inside the directory.
    pub fn path(&self, file: &str) -> PathBuf {
        self.0.join(file)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
