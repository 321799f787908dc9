//! Whole-file advisory locks that hold across processes: `File::lock` from std (Rust 1.89),
//! which is `flock` on Unix and `LockFileEx` on Windows. No extra dependency, no unsafe.

use std::fs::File;
use std::io;

/// Holds a lock on a file until dropped.
pub(crate) struct FileLock<'a> {
    file: &'a File,
}

impl<'a> FileLock<'a> {
    /// Waits for the exclusive lock (writers).
    pub(crate) fn exclusive(file: &'a File) -> io::Result<Self> {
        retry_interrupted(|| file.lock())?;
        Ok(FileLock { file })
    }

    /// Waits for a shared lock (readers: no writer is between its first and last byte).
    pub(crate) fn shared(file: &'a File) -> io::Result<Self> {
        retry_interrupted(|| file.lock_shared())?;
        Ok(FileLock { file })
    }
}

/// A signal may interrupt the wait for a lock; waiting again is the answer.
fn retry_interrupted(mut lock: impl FnMut() -> io::Result<()>) -> io::Result<()> {
    loop {
        match lock() {
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            result => return result,
        }
    }
}

impl Drop for FileLock<'_> {
    fn drop(&mut self) {
        // Closing the file releases the lock too; an unlock error leaves nothing to do.
        let _ = self.file.unlock();
    }
}

/// Reads exactly `buf.len()` bytes at `offset`, without moving a shared file position.
#[cfg(unix)]
pub(crate) fn read_exact_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buf, offset)
}

/// Reads exactly `buf.len()` bytes at `offset`.
#[cfg(not(unix))]
pub(crate) fn read_exact_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<()> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = file;
    file.seek(SeekFrom::Start(offset))?;
    file.read_exact(buf)
}
