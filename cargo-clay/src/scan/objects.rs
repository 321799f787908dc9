//! Git objects, read through `git cat-file --batch` and scanned on every core: blobs whole,
//! commits and annotated tags by their message. Each object is read once.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::JoinHandle;

use indicatif::{ProgressBar, ProgressStyle};

use super::content::{self, Buffers, CHUNK};
use super::{Match, Scanner};
use crate::Error;

/// The kinds of object that hold text worth scanning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum ObjectKind {
    /// File content.
    Blob,
    /// A commit: its message is scanned.
    Commit,
    /// An annotated tag: its message is scanned.
    Tag,
}

impl ObjectKind {
    /// `blob`, `commit` or `tag`.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            ObjectKind::Blob => "blob",
            ObjectKind::Commit => "commit",
            ObjectKind::Tag => "tag",
        }
    }
}

/// An object in which a secret was found.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Object {
    /// Its id (hex).
    pub(crate) oid: String,
    /// Its kind.
    pub(crate) kind: ObjectKind,
    /// For a tag, its name (the `tag` header).
    pub(crate) tag: Option<String>,
    /// For a commit, the committer time in seconds since the epoch (to tell the oldest of
    /// several); 0 otherwise.
    pub(crate) time: i64,
}

/// Where the objects come from.
#[derive(Debug)]
pub(crate) enum Source<'a> {
    /// Every object in the repository, in pack order (`--batch-all-objects --unordered`: each
    /// object once, and the order in which git inflates deltas fastest).
    All,
    /// These objects (ids), each once.
    These(&'a [String]),
}

/// A running `git cat-file --batch`.
struct CatFile {
    child: Child,
    stdout: BufReader<ChildStdout>,
    feeder: Option<JoinHandle<io::Result<()>>>,
    stderr: Option<JoinHandle<String>>,
}

impl CatFile {
    fn spawn(repo: &Path, source: &Source<'_>) -> Result<CatFile, Error> {
        let mut command: Command = crate::util::git(repo);
        command.args(["cat-file", "--batch"]);
        if matches!(source, Source::All) {
            command.args(["--batch-all-objects", "--unordered"]);
        }
        let mut child = command
            .stdin(match source {
                Source::All => Stdio::null(),
                Source::These(_) => Stdio::piped(),
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| Error::io("could not run `git cat-file`", e))?;
        // Fed from a thread: git answers while it reads, and both pipes must keep moving.
        let feeder = match (source, child.stdin.take()) {
            (Source::These(ids), Some(mut stdin)) => {
                let ids = ids.to_vec();
                Some(std::thread::spawn(move || {
                    let mut out = io::BufWriter::new(&mut stdin);
                    for id in ids {
                        out.write_all(id.as_bytes())?;
                        out.write_all(b"\n")?;
                    }
                    out.flush()
                }))
            }
            _ => None,
        };
        let stderr = child.stderr.take().map(|mut stderr| {
            std::thread::spawn(move || {
                let mut text = String::new();
                let _ = stderr.read_to_string(&mut text);
                text
            })
        });
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| Error::Io("`git cat-file` has no output pipe".to_owned()))?;
        // A pipe of 64 KiB means a context switch every 64 KiB of a GB-sized stream. Larger
        // where the system allows it; nothing changes where it does not.
        #[cfg(target_os = "linux")]
        let _ = rustix::pipe::fcntl_setpipe_size(&stdout, PIPE_SIZE);
        Ok(CatFile {
            child,
            stdout: BufReader::with_capacity(1 << 20, stdout),
            feeder,
            stderr,
        })
    }

    /// The next object's header: id, type and size; `None` at the end. Objects git reports
    /// as missing are skipped.
    fn next_header(&mut self, line: &mut Vec<u8>) -> io::Result<Option<(String, Vec<u8>, u64)>> {
        loop {
            line.clear();
            if self.stdout.read_until(b'\n', line)? == 0 {
                return Ok(None);
            }
            let text = String::from_utf8_lossy(line.strip_suffix(b"\n").unwrap_or(line));
            let mut parts = text.split(' ');
            let (Some(oid), Some(kind), Some(size)) = (parts.next(), parts.next(), parts.next())
            else {
                // `<oid> missing` or `<oid> ambiguous`: nothing to read.
                continue;
            };
            let size = size.parse::<u64>().map_err(|_| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    "`git cat-file`: bad object header",
                )
            })?;
            return Ok(Some((oid.to_owned(), kind.as_bytes().to_vec(), size)));
        }
    }

    /// Waits for git; an error when it failed.
    fn finish(mut self) -> Result<(), Error> {
        drop(self.stdout);
        let status = self
            .child
            .wait()
            .map_err(|e| Error::io("could not wait for `git cat-file`", e))?;
        if let Some(feeder) = self.feeder.take()
            && let Ok(Err(error)) = feeder.join()
            && error.kind() != io::ErrorKind::BrokenPipe
        {
            return Err(Error::io("writing to `git cat-file`", error));
        }
        let stderr = self
            .stderr
            .take()
            .and_then(|t| t.join().ok())
            .unwrap_or_default();
        if !status.success() {
            return Err(Error::Io(format!(
                "`git cat-file` failed: {}",
                crate::report::escape_text(stderr.trim())
            )));
        }
        Ok(())
    }
}

/// Objects read but not yet scanned: their contents back to back in one buffer.
#[derive(Debug, Default)]
struct Batch {
    data: Vec<u8>,
    objects: Vec<(String, ObjectKind, std::ops::Range<usize>)>,
}

/// The pipe size asked for on Linux (the default limit for unprivileged processes is 1 MiB).
#[cfg(target_os = "linux")]
const PIPE_SIZE: usize = 1 << 20;

/// What the batches hold before they are handed to a worker.
const BATCH_BYTES: usize = 4 << 20;

/// Scans the objects of `source` in the repository at `repo` on `threads` threads: every blob
/// whole (huge ones streamed), the message of every commit and annotated tag; trees hold only
/// names and are skipped. Returns each secret found with its object.
pub(crate) fn scan(
    scanner: &Scanner,
    repo: &Path,
    source: &Source<'_>,
    threads: usize,
    progress: bool,
) -> Result<Vec<(Object, Match)>, Error> {
    let mut cat = CatFile::spawn(repo, source)?;
    let bar = progress_bar(progress);
    let (sender, receiver) = mpsc::sync_channel::<Batch>(threads.max(1) * 2);
    let receiver = Arc::new(Mutex::new(receiver));
    // Scanned batches come back to be filled again: no allocation per batch.
    let (recycle, recycled) = mpsc::channel::<Batch>();
    let found = std::thread::scope(|scope| -> Result<Vec<(Object, Match)>, Error> {
        let workers: Vec<_> = (0..threads.max(1))
            .map(|_| {
                let receiver = Arc::clone(&receiver);
                let recycle = recycle.clone();
                scope.spawn(move || {
                    let mut buffers = Buffers::default();
                    let mut found = Vec::new();
                    loop {
                        let batch = match receiver.lock() {
                            Ok(receiver) => receiver.recv(),
                            Err(poisoned) => poisoned.into_inner().recv(),
                        };
                        let Ok(batch) = batch else { break };
                        for (oid, kind, range) in &batch.objects {
                            scan_object(
                                scanner,
                                oid,
                                *kind,
                                &batch.data[range.clone()],
                                &mut buffers,
                                &mut found,
                            );
                        }
                        let _ = recycle.send(batch);
                    }
                    found
                })
            })
            .collect();
        drop(recycle);
        let read = read_objects(scanner, &mut cat, &sender, &recycled, &bar);
        drop(sender);
        let mut found = Vec::new();
        for worker in workers {
            found.extend(
                worker
                    .join()
                    .map_err(|_| Error::Io("a scanning thread failed".to_owned()))?,
            );
        }
        found.extend(read?);
        Ok(found)
    });
    bar.finish_and_clear();
    let found = found.map_err(|e| match e {
        Error::Io(message) => Error::Io(format!("reading `git cat-file`: {message}")),
        other => other,
    });
    let finished = cat.finish();
    let found = found?;
    finished?;
    Ok(found)
}

/// Reads the stream, batching objects for the workers; a blob larger than a chunk is scanned
/// here as it is read, so that it is never held in memory whole. Returns what those found.
fn read_objects(
    scanner: &Scanner,
    cat: &mut CatFile,
    sender: &mpsc::SyncSender<Batch>,
    recycled: &mpsc::Receiver<Batch>,
    bar: &ProgressBar,
) -> Result<Vec<(Object, Match)>, Error> {
    let mut found = Vec::new();
    let mut buffers = Buffers::default();
    let mut batch = Batch::default();
    batch.data.reserve(BATCH_BYTES + (1 << 20));
    let mut header = Vec::new();
    let io_error = |e: io::Error| Error::Io(e.to_string());
    while let Some((oid, kind, size)) = cat.next_header(&mut header).map_err(io_error)? {
        let kind = match kind.as_slice() {
            b"blob" => Some(ObjectKind::Blob),
            b"commit" => Some(ObjectKind::Commit),
            b"tag" => Some(ObjectKind::Tag),
            _ => None,
        };
        let mut content = (&mut cat.stdout).take(size);
        match kind {
            None => {
                io::copy(&mut content, &mut io::sink()).map_err(io_error)?;
            }
            // Never held whole: scanned here as it is read (a huge commit or tag is scanned
            // whole, its headers with its message).
            Some(kind) if size > CHUNK as u64 => {
                content::stream(&mut content, &mut buffers, |piece| {
                    scanner.scan_piece(&piece, &mut |m| {
                        found.push((object(&oid, kind, &[]), m));
                    });
                })
                .map_err(io_error)?;
            }
            Some(kind) => {
                let start = batch.data.len();
                batch.data.reserve(size as usize);
                content.read_to_end(&mut batch.data).map_err(io_error)?;
                let end = batch.data.len();
                if (end - start) as u64 != size {
                    return Err(Error::Io("`git cat-file` output ended early".to_owned()));
                }
                batch.objects.push((oid, kind, start..end));
            }
        }
        // The newline after each object.
        let mut newline = [0u8; 1];
        cat.stdout.read_exact(&mut newline).map_err(io_error)?;
        bar.inc(1);
        if batch.data.len() >= BATCH_BYTES || batch.objects.len() >= 4096 {
            let mut next = recycled.try_recv().unwrap_or_default();
            next.data.clear();
            next.objects.clear();
            next.data.reserve(BATCH_BYTES + (1 << 20));
            let full = std::mem::replace(&mut batch, next);
            if sender.send(full).is_err() {
                break;
            }
        }
    }
    if !batch.objects.is_empty() {
        let _ = sender.send(batch);
    }
    Ok(found)
}

/// Scans one object held in memory.
fn scan_object(
    scanner: &Scanner,
    oid: &str,
    kind: ObjectKind,
    data: &[u8],
    buffers: &mut Buffers,
    found: &mut Vec<(Object, Match)>,
) {
    let text = match kind {
        ObjectKind::Blob => data,
        // Headers, a blank line, the message.
        ObjectKind::Commit | ObjectKind::Tag => match memchr::memmem::find(data, b"\n\n") {
            Some(blank) => &data[blank + 2..],
            None => return,
        },
    };
    let mut matches = Vec::new();
    content::whole(text, buffers, |piece| {
        scanner.scan_piece(&piece, &mut |m| matches.push(m));
    });
    if !matches.is_empty() {
        let object = object(oid, kind, data);
        found.extend(matches.into_iter().map(|m| (object.clone(), m)));
    }
}

/// The object record of a finding: for tags the name, for commits the committer time.
fn object(oid: &str, kind: ObjectKind, data: &[u8]) -> Object {
    let header = |name: &[u8]| -> Option<String> {
        let end = memchr::memmem::find(data, b"\n\n").unwrap_or(data.len());
        data[..end]
            .split(|b| *b == b'\n')
            .find_map(|line| line.strip_prefix(name))
            .map(|value| String::from_utf8_lossy(value).into_owned())
    };
    let time = if kind == ObjectKind::Commit {
        header(b"committer ")
            .and_then(|line| {
                let mut fields = line.rsplit(' ');
                fields.next();
                fields.next().and_then(|t| t.parse::<i64>().ok())
            })
            .unwrap_or(0)
    } else {
        0
    };
    Object {
        oid: oid.to_owned(),
        kind,
        tag: (kind == ObjectKind::Tag).then(|| header(b"tag ")).flatten(),
        time,
    }
}

fn progress_bar(progress: bool) -> ProgressBar {
    if !progress {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new_spinner();
    if let Ok(style) =
        ProgressStyle::with_template("{spinner} scanning git objects: {pos} ({elapsed})")
    {
        bar.set_style(style);
    }
    bar
}
