//! Whole-file advisory locks that hold across processes (`flock`).

use std::fs::File;
use std::io;

/// Holds a `flock` on a file until dropped.
pub(crate) struct FileLock<'a> {
    #[cfg_attr(not(unix), allow(dead_code))]
    file: &'a File,
}

impl<'a> FileLock<'a> {
    /// Waits for the exclusive lock (writers).
    pub(crate) fn exclusive(file: &'a File) -> io::Result<Self> {
        #[cfg(unix)]
        flock(file, rustix::fs::FlockOperation::LockExclusive)?;
        Ok(FileLock { file })
    }

    /// Waits for a shared lock (readers: no writer is between its first and last byte).
    pub(crate) fn shared(file: &'a File) -> io::Result<Self> {
        #[cfg(unix)]
        flock(file, rustix::fs::FlockOperation::LockShared)?;
        Ok(FileLock { file })
    }
}

#[cfg(unix)]
fn flock(file: &File, operation: rustix::fs::FlockOperation) -> io::Result<()> {
    loop {
        match rustix::fs::flock(file, operation) {
            Err(rustix::io::Errno::INTR) => continue,
            result => return result.map_err(io::Error::from),
        }
    }
}

impl Drop for FileLock<'_> {
    fn drop(&mut self) {
        // Closing the file releases the lock too; an unlock error leaves nothing to do.
        #[cfg(unix)]
        let _ = flock(self.file, rustix::fs::FlockOperation::Unlock);
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
