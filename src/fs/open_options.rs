//! `OpenOptions`: how to open a file, as in std (Python's `open` mode string, spelt out).

use super::{DirectIoAlignment, File, c_path, with_path};
use crate::op::Op;
use std::io;
use std::path::Path;

/// Permission bits for a new file before the umask, as std and Python use.
const FILE_MODE: u32 = 0o666;

/// Which access and creation flags to open a file with; [`open`](OpenOptions::open)
/// opens it through the ring.
///
/// | Python `open` mode | `OpenOptions`                                   |
/// |--------------------|-------------------------------------------------|
/// | `"rb"`             | `.read(true)`                                   |
/// | `"wb"`             | `.write(true).create(true).truncate(true)`      |
/// | `"ab"`             | `.append(true).create(true)`                    |
/// | `"xb"`             | `.write(true).create_new(true)`                 |
/// | `"r+b"`            | `.read(true).write(true)`                       |
///
/// # Examples
///
/// ```
/// use ringio::fs::OpenOptions;
///
/// # let dir = std::env::temp_dir().join(format!("ringio-doc-oo-{}", std::process::id()));
/// # std::fs::create_dir_all(&dir).unwrap();
/// ringio::run(async {
///     let path = dir.join("new.txt");
///     let file = OpenOptions::new().write(true).create_new(true).open(&path).await.unwrap();
///     file.write_all_at(b"fresh", 0).await.0.unwrap();
///     file.close().await.unwrap();
///     let again = OpenOptions::new().write(true).create_new(true).open(&path).await;
///     assert_eq!(again.unwrap_err().kind(), std::io::ErrorKind::AlreadyExists);
/// });
/// # std::fs::remove_dir_all(&dir).unwrap();
/// ```
#[doc(alias = "open")]
#[derive(Clone, Debug)]
pub struct OpenOptions {
    read: bool,
    write: bool,
    append: bool,
    truncate: bool,
    create: bool,
    create_new: bool,
    mode: u32,
    custom_flags: i32,
    direct: bool,
}

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions::new()
    }
}

impl OpenOptions {
    /// All options off (set at least `read`, `write` or `append`), mode 0o666.
    ///
    /// # Examples
    ///
    /// ```
    /// let opts = ringio::fs::OpenOptions::new().read(true).clone();
    /// # let _ = opts;
    /// ```
    pub fn new() -> OpenOptions {
        OpenOptions {
            read: false,
            write: false,
            append: false,
            truncate: false,
            create: false,
            create_new: false,
            mode: FILE_MODE,
            custom_flags: 0,
            direct: false,
        }
    }

    /// Opens for reading.
    ///
    /// # Examples
    ///
    /// ```
    /// ringio::run(async {
    ///     let f = ringio::fs::OpenOptions::new().read(true).open("/proc/self/status").await;
    ///     assert!(f.is_ok());
    /// });
    /// ```
    pub fn read(&mut self, read: bool) -> &mut OpenOptions {
        self.read = read;
        self
    }

    /// Opens for writing.
    ///
    /// # Examples
    ///
    /// ```
    /// ringio::run(async {
    ///     let f = ringio::fs::OpenOptions::new().write(true).open("/dev/null").await;
    ///     assert!(f.is_ok());
    /// });
    /// ```
    pub fn write(&mut self, write: bool) -> &mut OpenOptions {
        self.write = write;
        self
    }

    /// Opens for appending (O_APPEND): every write lands at the end of the file, whatever
    /// its offset. Implies writing.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringio::fs::OpenOptions;
    ///
    /// # let dir = std::env::temp_dir().join(format!("ringio-doc-app-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir).unwrap();
    /// ringio::run(async {
    ///     let path = dir.join("log.txt");
    ///     ringio::fs::write(&path, b"one\n").await.unwrap();
    ///     let log = OpenOptions::new().append(true).open(&path).await.unwrap();
    ///     log.write_all_at(b"two\n", 0).await.0.unwrap();
    ///     assert_eq!(std::fs::read(&path).unwrap(), b"one\ntwo\n");
    /// });
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    pub fn append(&mut self, append: bool) -> &mut OpenOptions {
        self.append = append;
        self
    }

    /// Cuts an existing file to length 0 (O_TRUNC). Needs `write`.
    ///
    /// # Examples
    ///
    /// ```
    /// let opts = ringio::fs::OpenOptions::new().write(true).truncate(true).clone();
    /// # let _ = opts;
    /// ```
    pub fn truncate(&mut self, truncate: bool) -> &mut OpenOptions {
        self.truncate = truncate;
        self
    }

    /// Creates the file if it does not exist (O_CREAT). Needs `write` or `append`.
    ///
    /// # Examples
    ///
    /// ```
    /// let opts = ringio::fs::OpenOptions::new().write(true).create(true).clone();
    /// # let _ = opts;
    /// ```
    pub fn create(&mut self, create: bool) -> &mut OpenOptions {
        self.create = create;
        self
    }

    /// Creates the file and fails with `AlreadyExists` if it exists (O_CREAT | O_EXCL,
    /// Python's `"x"` mode). Overrides `create` and `truncate`. Needs `write` or `append`.
    ///
    /// # Examples
    ///
    /// ```
    /// let opts = ringio::fs::OpenOptions::new().write(true).create_new(true).clone();
    /// # let _ = opts;
    /// ```
    pub fn create_new(&mut self, create_new: bool) -> &mut OpenOptions {
        self.create_new = create_new;
        self
    }

    /// Permission bits of a created file, before the umask (default 0o666).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::os::unix::fs::PermissionsExt;
    ///
    /// # let dir = std::env::temp_dir().join(format!("ringio-doc-mode-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir).unwrap();
    /// ringio::run(async {
    ///     let path = dir.join("private.txt");
    ///     let opts = ringio::fs::OpenOptions::new().write(true).create(true).mode(0o600).clone();
    ///     opts.open(&path).await.unwrap();
    ///     let meta = ringio::fs::metadata(&path).await.unwrap();
    ///     assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    /// });
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    pub fn mode(&mut self, mode: u32) -> &mut OpenOptions {
        self.mode = mode;
        self
    }

    /// Extra open(2) flags, OR-ed into those the other options set (std's
    /// `OpenOptionsExt::custom_flags`): `O_NOATIME`, `O_SYNC`, `O_DIRECT`, ... The access
    /// mode bits (`O_ACCMODE`) are ignored: [`read`](OpenOptions::read) and
    /// [`write`](OpenOptions::write) set those. A file opened with `O_DIRECT` this way is
    /// checked as with [`direct`](OpenOptions::direct).
    ///
    /// # Examples
    ///
    /// ```
    /// ringio::run(async {
    ///     let mut opts = ringio::fs::OpenOptions::new();
    ///     opts.read(true).custom_flags(libc::O_NOFOLLOW);
    ///     // /proc/self/exe is a symbolic link: O_NOFOLLOW refuses it (ELOOP).
    ///     let err = opts.open("/proc/self/exe").await.unwrap_err();
    ///     assert!(err.to_string().contains("/proc/self/exe"), "{err}");
    /// });
    /// ```
    pub fn custom_flags(&mut self, flags: i32) -> &mut OpenOptions {
        self.custom_flags = flags & !libc::O_ACCMODE;
        self
    }

    /// Opens for direct I/O (O_DIRECT): reads and writes go between the device and the
    /// caller's buffers, bypassing the page cache. Buffer addresses, lengths and offsets
    /// must then be aligned as the file's
    /// [`direct_io_alignment`](File::direct_io_alignment) says (statx `STATX_DIOALIGN`,
    /// else 512 bytes); reads and writes check this before they are submitted and fail
    /// with `InvalidInput` naming what is misaligned. [`AlignedBuf`](crate::buf::AlignedBuf)
    /// makes aligned buffers. A filesystem without direct I/O (tmpfs) refuses the open
    /// with `EINVAL`. A file whose size is not a multiple of the alignment ends in a
    /// short read; a `read_exact_at` that goes on from there is refused as misaligned.
    ///
    /// # Examples
    ///
    /// ```
    /// use ringio::buf::AlignedBuf;
    /// use ringio::fs::OpenOptions;
    ///
    /// # let dir = std::env::temp_dir().join(format!("ringio-doc-direct-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir).unwrap();
    /// ringio::run(async {
    ///     let path = dir.join("direct.bin");
    ///     let mut opts = OpenOptions::new();
    ///     opts.read(true).write(true).create(true).direct(true);
    ///     let Ok(file) = opts.open(&path).await else {
    ///         return; // this filesystem has no direct I/O (tmpfs)
    ///     };
    ///     let mut buf = AlignedBuf::new(4096, 4096);
    ///     buf.fill(b'd');
    ///     file.write_all_at(buf, 0).await.0.unwrap();
    ///     let (res, buf) = file.read_at(AlignedBuf::with_capacity(4096, 4096), 0).await;
    ///     assert_eq!(res.unwrap(), 4096);
    ///     assert!(buf.iter().all(|&b| b == b'd'));
    ///     let (res, _) = file.read_at(vec![0u8; 100], 0).await;
    ///     assert_eq!(res.unwrap_err().kind(), std::io::ErrorKind::InvalidInput);
    /// });
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    #[doc(alias = "O_DIRECT")]
    pub fn direct(&mut self, direct: bool) -> &mut OpenOptions {
        self.direct = direct;
        self
    }

    /// Opens `path` with these options (openat through the ring; O_CLOEXEC always).
    ///
    /// # Examples
    ///
    /// ```
    /// ringio::run(async {
    ///     let err = ringio::fs::OpenOptions::new().read(true).open("/no/such/file").await;
    ///     assert_eq!(err.unwrap_err().kind(), std::io::ErrorKind::NotFound);
    /// });
    /// ```
    ///
    /// # Errors
    ///
    /// `InvalidInput` if the options contradict each other (no access mode, or
    /// `create`/`truncate` without write access) or the path holds a NUL byte;
    /// otherwise what open(2) reports: `NotFound`, `PermissionDenied`, `AlreadyExists`
    /// (`create_new`), `IsADirectory` (a directory opened for writing), ... These name
    /// the path in their message and keep open(2)'s [`ErrorKind`](io::ErrorKind).
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: if the future is dropped, a descriptor the kernel opens afterwards is
    /// closed when its completion arrives (a file created by `create` stays created).
    pub async fn open(&self, path: impl AsRef<Path>) -> io::Result<File> {
        let mut flags = self.access_flags()? | self.creation_flags()? | self.custom_flags;
        if self.direct {
            flags |= libc::O_DIRECT;
        }
        let path = path.as_ref();
        let direct = flags & libc::O_DIRECT != 0;
        let what = if direct { "open (O_DIRECT)" } else { "open" };
        let fd = async { Op::open_at(c_path(path)?, flags, self.mode)?.await }.await;
        let fd = fd.map_err(|e| with_path(e, what, path))?;
        let mut file = File::from_fd(fd);
        if direct {
            let align = DirectIoAlignment::of(&file.fd).await;
            file.direct = Some(align.map_err(|e| with_path(e, "statx (STATX_DIOALIGN)", path))?);
        }
        Ok(file)
    }

    /// O_RDONLY / O_WRONLY / O_RDWR (| O_APPEND), with std's checks.
    fn access_flags(&self) -> io::Result<i32> {
        match (self.read, self.write, self.append) {
            (true, false, false) => Ok(libc::O_RDONLY),
            (false, true, false) => Ok(libc::O_WRONLY),
            (true, true, false) => Ok(libc::O_RDWR),
            (false, _, true) => Ok(libc::O_WRONLY | libc::O_APPEND),
            (true, _, true) => Ok(libc::O_RDWR | libc::O_APPEND),
            (false, false, false) => Err(invalid(
                "no access mode: set read, write or append on the OpenOptions",
            )),
        }
    }

    /// O_CREAT / O_EXCL / O_TRUNC, with std's checks.
    fn creation_flags(&self) -> io::Result<i32> {
        if !self.write && !self.append && (self.truncate || self.create || self.create_new) {
            return Err(invalid(
                "create, create_new and truncate need write or append access",
            ));
        }
        if self.append && self.truncate && !self.create_new {
            return Err(invalid("append and truncate contradict each other"));
        }
        Ok(match (self.create, self.truncate, self.create_new) {
            (_, _, true) => libc::O_CREAT | libc::O_EXCL,
            (true, true, false) => libc::O_CREAT | libc::O_TRUNC,
            (true, false, false) => libc::O_CREAT,
            (false, true, false) => libc::O_TRUNC,
            (false, false, false) => 0,
        })
    }
}

fn invalid(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_follow_std() {
        let mut o = OpenOptions::new();
        assert!(o.access_flags().is_err());
        o.read(true);
        assert_eq!(o.access_flags().unwrap(), libc::O_RDONLY);
        assert!(o.clone().truncate(true).creation_flags().is_err());
        o.write(true).create(true).truncate(true);
        assert_eq!(o.access_flags().unwrap(), libc::O_RDWR);
        assert_eq!(o.creation_flags().unwrap(), libc::O_CREAT | libc::O_TRUNC);
        o.create_new(true);
        assert_eq!(o.creation_flags().unwrap(), libc::O_CREAT | libc::O_EXCL);
        let mut a = OpenOptions::new();
        a.append(true).truncate(true);
        assert!(a.creation_flags().is_err());
        a.truncate(false).create(true);
        assert_eq!(a.access_flags().unwrap(), libc::O_WRONLY | libc::O_APPEND);
        assert_eq!(a.creation_flags().unwrap(), libc::O_CREAT);
    }
}
