//! Directories: listing ([`read_dir`], [`ReadDir`], [`DirEntry`]), creating a whole path
//! ([`create_dir_all`]) and removing ([`remove_dir`], [`remove_dir_all`]).
//!
//! Rules:
//! 1. io_uring has no opcode to read a directory, so [`ReadDir`] reads it on the blocking
//!    pool, [`BATCH`] entries per job: the core never blocks on getdents64(2), and a huge
//!    directory costs the core one hand-over per batch, not one per entry.
//! 2. The open directory lives in the job while a batch is read and in the `ReadDir`
//!    between batches; dropping the `ReadDir` (or its `next_entry` future) mid-batch
//!    leaves the job to finish and drop it, so its descriptor is closed then, on the pool.
//! 3. Each entry's type comes with its batch (the directory's `d_type`, or an lstat on the
//!    pool where the filesystem gives none), so [`DirEntry::file_type`] costs nothing
//!    later.
#![forbid(unsafe_code)]

use super::{Metadata, c_path, links, on_pool, with_path};
use crate::JoinHandle;
use crate::op::Op;
use std::collections::VecDeque;
use std::ffi::OsString;
use std::fs::FileType;
use std::future::{Future, poll_fn};
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::task::{Context, Poll};

/// Entries read per blocking-pool job: big enough that a 100,000-entry directory takes a
/// few hundred hand-overs, small enough that one batch (at most a few 32 KiB getdents64
/// calls) keeps a pool thread for well under a millisecond on a warm cache.
const BATCH: usize = 256;

/// A batch of entries, and the directory if it has more (rule 2).
type Batch = (Option<std::fs::ReadDir>, VecDeque<io::Result<DirEntry>>);

/// Opens the directory `path` for listing; [`ReadDir::next_entry`] gives its entries.
///
/// The entries come in the directory's order, without `.` and `..`. The directory is
/// opened and read on the blocking pool (module rule 1).
///
/// # Examples
///
/// ```
/// # let dir = std::env::temp_dir().join(format!("ringio-doc-readdir-{}", std::process::id()));
/// # std::fs::create_dir_all(&dir).unwrap();
/// ringio::run(async {
///     ringio::fs::write(dir.join("a.txt"), b"a").await.unwrap();
///     ringio::fs::create_dir(dir.join("sub")).await.unwrap();
///     let mut names = Vec::new();
///     let mut entries = ringio::fs::read_dir(&dir).await.unwrap();
///     while let Some(entry) = entries.next_entry().await.unwrap() {
///         let is_dir = entry.file_type().await.unwrap().is_dir();
///         names.push((entry.file_name().into_string().unwrap(), is_dir));
///     }
///     names.sort();
///     assert_eq!(names, [("a.txt".to_string(), false), ("sub".to_string(), true)]);
/// });
/// # std::fs::remove_dir_all(&dir).unwrap();
/// ```
///
/// # Errors
///
/// `NotFound`, `PermissionDenied`, `NotADirectory`, `InvalidInput` (NUL in the path):
/// what opendir(3) reports, with the path in the message.
///
/// # Cancel safety
///
/// Cancel-safe: if the future is dropped, the directory the pool opens is closed there.
#[doc(alias = "os.scandir")]
#[doc(alias = "os.listdir")]
#[doc(alias = "opendir")]
pub async fn read_dir(path: impl AsRef<Path>) -> io::Result<ReadDir> {
    let path = path.as_ref().to_path_buf();
    let open = path.clone();
    let dir = on_pool(
        move || std::fs::read_dir(open),
        |e| with_path(e, "read directory", &path),
    )
    .await?;
    Ok(ReadDir {
        path,
        ready: VecDeque::new(),
        state: State::Idle(dir),
    })
}

/// The entries of a directory, read in batches on the blocking pool; from [`read_dir`].
///
/// Use [`next_entry`](ReadDir::next_entry) in a `while let` loop. With the feature
/// `futures-core` it is also a `futures_core::Stream` of `io::Result<DirEntry>`.
///
/// # Examples
///
/// ```
/// ringio::run(async {
///     let mut entries = ringio::fs::read_dir("/proc/self").await.unwrap();
///     let mut seen_status = false;
///     while let Some(entry) = entries.next_entry().await.unwrap() {
///         seen_status |= entry.file_name() == "status";
///     }
///     assert!(seen_status);
/// });
/// ```
#[derive(Debug)]
pub struct ReadDir {
    /// The directory, for error messages and the entries' paths.
    path: PathBuf,
    /// Entries read but not yet given out.
    ready: VecDeque<io::Result<DirEntry>>,
    state: State,
}

#[derive(Debug)]
enum State {
    /// Between batches: the directory, not being read.
    Idle(std::fs::ReadDir),
    /// A batch is being read on the pool; the job holds the directory (rule 2).
    Reading(JoinHandle<Batch>),
    /// The end was reached (or the pool failed): only `None` from now on.
    Done,
}

impl ReadDir {
    /// The next entry, or `None` at the end of the directory.
    ///
    /// An entry added or removed while the directory is being read may or may not be
    /// seen (readdir(3)); every other entry is given exactly once.
    ///
    /// # Examples
    ///
    /// ```
    /// ringio::run(async {
    ///     let mut entries = ringio::fs::read_dir("/").await.unwrap();
    ///     let mut count = 0;
    ///     while let Some(entry) = entries.next_entry().await.unwrap() {
    ///         assert!(entry.path().starts_with("/"));
    ///         count += 1;
    ///     }
    ///     assert!(count > 0);
    /// });
    /// ```
    ///
    /// # Errors
    ///
    /// What getdents64(2) reports for this batch (e.g. `EIO`), with the directory's path
    /// in the message; the listing goes on after it if the directory can. An error if the
    /// pool thread reading the batch panicked, after which the listing ends.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: a batch being read when the future is dropped stays with the
    /// `ReadDir`, and the next call gives its entries; no entry is lost or repeated.
    pub async fn next_entry(&mut self) -> io::Result<Option<DirEntry>> {
        poll_fn(|cx| self.poll_next_entry(cx)).await
    }

    /// Polls for the next entry: as [`next_entry`](ReadDir::next_entry), for code that
    /// writes its own futures.
    ///
    /// # Examples
    ///
    /// ```
    /// ringio::run(async {
    ///     let mut entries = ringio::fs::read_dir("/").await.unwrap();
    ///     let first = std::future::poll_fn(|cx| entries.poll_next_entry(cx)).await;
    ///     assert!(first.unwrap().is_some());
    /// });
    /// ```
    ///
    /// # Errors
    ///
    /// As [`next_entry`](ReadDir::next_entry).
    pub fn poll_next_entry(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<Option<DirEntry>>> {
        loop {
            if let Some(entry) = self.ready.pop_front() {
                return Poll::Ready(entry.map(Some));
            }
            match &mut self.state {
                State::Done => return Poll::Ready(Ok(None)),
                State::Idle(_) => {
                    let State::Idle(dir) = std::mem::replace(&mut self.state, State::Done) else {
                        unreachable!("matched Idle above");
                    };
                    let path = self.path.clone();
                    let job = crate::spawn_blocking(move || read_batch(dir, &path));
                    self.state = State::Reading(job);
                }
                State::Reading(job) => {
                    let res = std::task::ready!(Pin::new(job).poll(cx));
                    self.state = State::Done;
                    match res {
                        Ok((dir, batch)) => {
                            self.ready = batch;
                            if let Some(dir) = dir {
                                self.state = State::Idle(dir);
                            }
                        }
                        Err(join) => {
                            let e = io::Error::other(join.to_string());
                            return Poll::Ready(Err(with_path(e, "read directory", &self.path)));
                        }
                    }
                }
            }
        }
    }
}

/// Reads up to [`BATCH`] entries of `dir` (on the pool); gives the directory back unless
/// its end was reached.
fn read_batch(mut dir: std::fs::ReadDir, path: &Path) -> Batch {
    let mut batch = VecDeque::with_capacity(BATCH);
    for _ in 0..BATCH {
        let Some(entry) = dir.next() else {
            return (None, batch);
        };
        batch.push_back(match entry {
            Ok(e) => Ok(DirEntry {
                path: e.path(),
                file_type: e.file_type().ok(),
            }),
            Err(e) => Err(with_path(e, "read directory", path)),
        });
    }
    (Some(dir), batch)
}

/// `async for` over a directory: the same as [`ReadDir::next_entry`], with each item an
/// `io::Result<DirEntry>`; `None` at the end.
///
/// # Features
///
/// Needs the cargo feature `futures-core`.
///
/// # Cancel safety
///
/// As [`ReadDir::next_entry`]: dropping a `next()` of `StreamExt` loses no entry.
///
/// # Examples
///
/// ```
/// use futures_util::StreamExt;
///
/// ringio::run(async {
///     let entries = ringio::fs::read_dir("/").await.unwrap();
///     let names: Vec<_> = entries.map(|e| e.unwrap().file_name()).collect().await;
///     assert!(!names.is_empty());
/// });
/// ```
#[cfg(feature = "futures-core")]
impl futures_core::Stream for ReadDir {
    type Item = io::Result<DirEntry>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_next_entry(cx).map(Result::transpose)
    }
}

/// One entry of a directory listing, from [`ReadDir::next_entry`].
///
/// # Examples
///
/// ```
/// # let dir = std::env::temp_dir().join(format!("ringio-doc-entry-{}", std::process::id()));
/// # std::fs::create_dir_all(&dir).unwrap();
/// ringio::run(async {
///     ringio::fs::write(dir.join("only.txt"), b"12").await.unwrap();
///     let mut entries = ringio::fs::read_dir(&dir).await.unwrap();
///     let entry = entries.next_entry().await.unwrap().unwrap();
///     assert_eq!(entry.file_name(), "only.txt");
///     assert_eq!(entry.path(), dir.join("only.txt"));
///     assert_eq!(entry.metadata().await.unwrap().len(), 2);
///     assert!(entries.next_entry().await.unwrap().is_none());
/// });
/// # std::fs::remove_dir_all(&dir).unwrap();
/// ```
#[doc(alias = "os.DirEntry")]
#[derive(Debug)]
pub struct DirEntry {
    /// The directory's path joined with the entry's name.
    path: PathBuf,
    /// The type read with the batch (rule 3); `None` if that lstat failed.
    file_type: Option<FileType>,
}

impl DirEntry {
    /// The entry's full path: the path given to [`read_dir`] joined with the entry's name.
    ///
    /// # Examples
    ///
    /// ```
    /// ringio::run(async {
    ///     let mut entries = ringio::fs::read_dir("/").await.unwrap();
    ///     let entry = entries.next_entry().await.unwrap().unwrap();
    ///     assert_eq!(entry.path(), std::path::Path::new("/").join(entry.file_name()));
    /// });
    /// ```
    pub fn path(&self) -> PathBuf {
        self.path.clone()
    }

    /// The entry's name, without the directory.
    ///
    /// # Examples
    ///
    /// ```
    /// ringio::run(async {
    ///     let mut entries = ringio::fs::read_dir("/").await.unwrap();
    ///     let entry = entries.next_entry().await.unwrap().unwrap();
    ///     assert!(!entry.file_name().is_empty());
    /// });
    /// ```
    pub fn file_name(&self) -> OsString {
        self.path
            .file_name()
            .expect("an entry's path ends with its name")
            .to_owned()
    }

    /// The entry's type, not following a symlink (a symlink is `is_symlink()`). Known
    /// from the listing (module rule 3), so this is ready at once unless that failed.
    ///
    /// # Examples
    ///
    /// ```
    /// ringio::run(async {
    ///     let mut entries = ringio::fs::read_dir("/proc/self").await.unwrap();
    ///     while let Some(entry) = entries.next_entry().await.unwrap() {
    ///         if entry.file_name() == "exe" {
    ///             assert!(entry.file_type().await.unwrap().is_symlink());
    ///         }
    ///     }
    /// });
    /// ```
    ///
    /// # Errors
    ///
    /// Only if the listing could not tell the type: then an lstat on the pool, and its
    /// error (`NotFound` if the entry was removed since), with the path in the message.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: dropping the future loses nothing.
    pub async fn file_type(&self) -> io::Result<FileType> {
        match self.file_type {
            Some(t) => Ok(t),
            None => {
                let path = self.path.clone();
                let at = path.clone();
                on_pool(
                    move || std::fs::symlink_metadata(at).map(|m| m.file_type()),
                    |e| with_path(e, "stat", &path),
                )
                .await
            }
        }
    }

    /// The entry's metadata, not following a symlink (as
    /// [`symlink_metadata`](super::symlink_metadata) of [`path`](DirEntry::path)).
    ///
    /// # Examples
    ///
    /// ```
    /// ringio::run(async {
    ///     let mut entries = ringio::fs::read_dir("/").await.unwrap();
    ///     let entry = entries.next_entry().await.unwrap().unwrap();
    ///     let meta = entry.metadata().await.unwrap();
    ///     assert_eq!(meta.is_dir(), entry.file_type().await.unwrap().is_dir());
    /// });
    /// ```
    ///
    /// # Errors
    ///
    /// `NotFound` if the entry was removed since it was listed, `PermissionDenied`; with
    /// the path in the message.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: dropping the future loses nothing.
    pub async fn metadata(&self) -> io::Result<Metadata> {
        links::symlink_metadata(&self.path).await
    }
}

/// Creates a directory and every missing parent, as `mkdir -p` (on the blocking pool,
/// std's [`create_dir_all`](std::fs::create_dir_all)); new directories get mode 0o777
/// less the umask. A directory that exists already is not an error.
///
/// # Examples
///
/// ```
/// # let dir = std::env::temp_dir().join(format!("ringio-doc-mkdirp-{}", std::process::id()));
/// # std::fs::create_dir_all(&dir).unwrap();
/// ringio::run(async {
///     let deep = dir.join("a/b/c");
///     ringio::fs::create_dir_all(&deep).await.unwrap();
///     assert!(deep.is_dir());
///     ringio::fs::create_dir_all(&deep).await.unwrap(); // exists: fine
/// });
/// # std::fs::remove_dir_all(&dir).unwrap();
/// ```
///
/// # Errors
///
/// `PermissionDenied`, `NotADirectory` (a file on the way), `AlreadyExists` if `path` is
/// a file; with the path in the message.
///
/// # Cancel safety
///
/// Not cancelled: once the future was polled, the directories are created even if the
/// future is dropped.
#[doc(alias = "os.makedirs")]
#[doc(alias = "mkdir -p")]
pub async fn create_dir_all(path: impl AsRef<Path>) -> io::Result<()> {
    let path = path.as_ref().to_path_buf();
    let at = path.clone();
    on_pool(
        move || std::fs::DirBuilder::new().recursive(true).create(at),
        |e| with_path(e, "create directories", &path),
    )
    .await
}

/// Removes an empty directory (IORING_OP_UNLINKAT with AT_REMOVEDIR).
///
/// # Examples
///
/// ```
/// # let dir = std::env::temp_dir().join(format!("ringio-doc-rmdir-{}", std::process::id()));
/// # std::fs::create_dir_all(&dir).unwrap();
/// ringio::run(async {
///     let sub = dir.join("empty");
///     ringio::fs::create_dir(&sub).await.unwrap();
///     ringio::fs::remove_dir(&sub).await.unwrap();
///     assert!(!sub.exists());
///     assert!(ringio::fs::remove_dir(&sub).await.unwrap_err().to_string().contains("empty"));
/// });
/// # std::fs::remove_dir_all(&dir).unwrap();
/// ```
///
/// # Errors
///
/// `DirectoryNotEmpty`, `NotFound`, `NotADirectory`, `PermissionDenied`, `InvalidInput`
/// (NUL in the path): what rmdir(2) reports, with the path in the message.
///
/// # Cancel safety
///
/// Not cancelled: once the future was polled, the directory is removed even if the
/// future is dropped.
#[doc(alias = "os.rmdir")]
pub async fn remove_dir(path: impl AsRef<Path>) -> io::Result<()> {
    let path = path.as_ref();
    let res = async { Op::unlink_at(c_path(path)?, true)?.await }.await;
    res.map_err(|e| with_path(e, "remove directory", path))
}

/// Removes a directory and everything in it (on the blocking pool, std's
/// [`remove_dir_all`](std::fs::remove_dir_all)).
///
/// A symlink inside the tree is removed, never followed: std opens each directory with
/// `O_NOFOLLOW` relative to its parent's descriptor, so swapping a directory for a
/// symlink while the removal runs cannot make it delete outside the tree (CVE-2022-21658).
/// `path` itself may not be a symlink to a directory (`NotADirectory`).
///
/// # Examples
///
/// ```
/// # let dir = std::env::temp_dir().join(format!("ringio-doc-rmtree-{}", std::process::id()));
/// # std::fs::create_dir_all(&dir).unwrap();
/// ringio::run(async {
///     let tree = dir.join("tree");
///     ringio::fs::create_dir_all(tree.join("x/y")).await.unwrap();
///     ringio::fs::write(tree.join("x/y/f.txt"), b"f").await.unwrap();
///     ringio::fs::remove_dir_all(&tree).await.unwrap();
///     assert!(!tree.exists());
/// });
/// # std::fs::remove_dir_all(&dir).unwrap();
/// ```
///
/// # Errors
///
/// `NotFound`, `PermissionDenied` (the first entry that cannot be removed stops the
/// removal; what was removed stays removed), with the path given here in the message.
///
/// # Cancel safety
///
/// Not cancelled: once the future was polled, the removal runs to its end on the pool
/// even if the future is dropped.
#[doc(alias = "shutil.rmtree")]
#[doc(alias = "rm -r")]
pub async fn remove_dir_all(path: impl AsRef<Path>) -> io::Result<()> {
    let path = path.as_ref().to_path_buf();
    let at = path.clone();
    on_pool(
        move || std::fs::remove_dir_all(at),
        |e| with_path(e, "remove directory tree", &path),
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_end_with_the_directory() {
        let dir = std::env::temp_dir().join(format!("ringio-unit-batch-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for i in 0..BATCH + 3 {
            std::fs::write(dir.join(i.to_string()), b"").unwrap();
        }
        let (rest, first) = read_batch(std::fs::read_dir(&dir).unwrap(), &dir);
        assert_eq!(first.len(), BATCH);
        let (rest, second) = read_batch(rest.expect("more to read"), &dir);
        assert_eq!(second.len(), 3);
        assert!(rest.is_none(), "the end gives the directory up");
        assert!(
            first
                .iter()
                .all(|e| e.as_ref().unwrap().file_type.unwrap().is_file())
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
