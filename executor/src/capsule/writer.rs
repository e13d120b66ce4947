//! The capsule directory, kept under a count cap and a size cap.
//!
//! Before a capsule is written, the oldest capsules are removed until the new one fits
//! both caps; a capsule larger than the whole size cap is not written at all (the caller
//! logs it), so the directory never holds more than `max_files` capsules or more than
//! `max_bytes` bytes of them. A capsule is written to a hidden temporary file and renamed
//! into place, so a reader (or a crash) never sees half of one.
//!
//! Names are `capsule-<unix ms, 13 digits>-<sequence>-t<topoheight>-<reason>.json`: they
//! sort oldest first, which is the order of removal. Only files with that shape are
//! counted or removed; anything else an operator leaves in the directory is untouched.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use super::{Capsule, CapsuleConfig, CapsuleError};

/// What [`CapsuleWriter::write`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WriteOutcome {
    /// The capsule is at `path`; `removed` are the older capsules deleted to make room.
    Written {
        /// The new capsule.
        path: PathBuf,
        /// Its size.
        bytes: u64,
        /// The capsules removed to keep the caps.
        removed: Vec<PathBuf>,
    },
    /// The capsule alone is larger than the size cap: nothing was written or removed.
    TooLarge {
        /// Its size.
        bytes: u64,
        /// The cap.
        max_bytes: u64,
    },
}

/// One capsule in the directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CapsuleEntry {
    /// Its path.
    pub path: PathBuf,
    /// Its size.
    pub bytes: u64,
}

/// Writes capsules to a directory under its caps; see the module docs.
#[derive(Debug)]
pub struct CapsuleWriter {
    dir: PathBuf,
    max_files: usize,
    max_bytes: u64,
    sequence: AtomicU64,
    /// One write (prune, then write) at a time.
    writing: Mutex<()>,
}

impl CapsuleWriter {
    /// A writer to `dir` keeping at most `max_files` capsules and `max_bytes` bytes.
    pub fn new(dir: impl Into<PathBuf>, max_files: usize, max_bytes: u64) -> Self {
        Self {
            dir: dir.into(),
            max_files,
            max_bytes,
            sequence: AtomicU64::new(0),
            writing: Mutex::new(()),
        }
    }

    /// The writer `config` describes, or `None` when capsules are off (no `dir`).
    pub fn from_config(config: &CapsuleConfig) -> Option<Self> {
        config
            .dir
            .as_ref()
            .map(|dir| Self::new(dir, config.max_files, config.max_bytes))
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The count cap.
    pub fn max_files(&self) -> usize {
        self.max_files
    }

    /// The size cap.
    pub fn max_bytes(&self) -> u64 {
        self.max_bytes
    }

    /// Encodes and writes `capsule`, removing the oldest capsules as the caps require.
    pub fn write(&self, capsule: &Capsule) -> Result<WriteOutcome, CapsuleError> {
        let bytes = capsule.to_bytes()?;
        let sequence = self.sequence.fetch_add(1, Ordering::Relaxed);
        let name = format!(
            "capsule-{:013}-{sequence:04}-t{}-{}.json",
            capsule.created_unix_ms,
            capsule.block.topoheight(),
            capsule.reason
        );
        self.write_named(&name, &bytes)
    }

    /// Writes `bytes` as the capsule file `name` (a name of the shape in the module
    /// docs), removing the oldest capsules as the caps require.
    pub fn write_named(&self, name: &str, bytes: &[u8]) -> Result<WriteOutcome, CapsuleError> {
        let size = bytes.len() as u64;
        if size > self.max_bytes {
            return Ok(WriteOutcome::TooLarge {
                bytes: size,
                max_bytes: self.max_bytes,
            });
        }
        let _writing = self.writing.lock().unwrap_or_else(PoisonError::into_inner);
        std::fs::create_dir_all(&self.dir).map_err(|source| CapsuleError::io(&self.dir, source))?;
        let existing = self.list()?;
        let mut total: u64 = existing.iter().map(|entry| entry.bytes).sum();
        let mut count = existing.len();
        let mut removed = Vec::new();
        // Oldest first: remove until one more file of `size` bytes fits both caps.
        let mut oldest = existing.into_iter();
        while count + 1 > self.max_files || total.saturating_add(size) > self.max_bytes {
            let Some(entry) = oldest.next() else { break };
            std::fs::remove_file(&entry.path)
                .map_err(|source| CapsuleError::io(&entry.path, source))?;
            total -= entry.bytes;
            count -= 1;
            removed.push(entry.path);
        }
        let path = self.dir.join(name);
        let temporary = self.dir.join(format!(".{name}.tmp"));
        std::fs::write(&temporary, bytes).map_err(|source| CapsuleError::io(&temporary, source))?;
        std::fs::rename(&temporary, &path).map_err(|source| {
            let _ = std::fs::remove_file(&temporary);
            CapsuleError::io(&path, source)
        })?;
        Ok(WriteOutcome::Written {
            path,
            bytes: size,
            removed,
        })
    }

    /// The capsules in the directory, oldest first (an absent directory holds none).
    pub fn list(&self) -> Result<Vec<CapsuleEntry>, CapsuleError> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => return Err(CapsuleError::io(&self.dir, source)),
        };
        let mut capsules = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|source| CapsuleError::io(&self.dir, source))?;
            let name = entry.file_name();
            if !is_capsule_name(&name.to_string_lossy()) {
                continue;
            }
            let metadata = entry
                .metadata()
                .map_err(|source| CapsuleError::io(&entry.path(), source))?;
            if metadata.is_file() {
                capsules.push(CapsuleEntry {
                    path: entry.path(),
                    bytes: metadata.len(),
                });
            }
        }
        capsules.sort_by(|a, b| a.path.file_name().cmp(&b.path.file_name()));
        Ok(capsules)
    }
}

/// Whether `name` has the shape of a capsule's file name (see the module docs).
fn is_capsule_name(name: &str) -> bool {
    name.starts_with("capsule-") && name.ends_with(".json")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_exceeds_either_cap_and_removes_the_oldest_first() {
        let dir = tempfile::tempdir().expect("temp dir");
        let writer = CapsuleWriter::new(dir.path(), 3, 1_000);
        std::fs::write(dir.path().join("notes.txt"), "an operator's file").expect("write");
        for (index, size) in [100usize, 400, 300, 900, 50, 1_000, 20, 600, 10]
            .into_iter()
            .enumerate()
        {
            let name = format!("capsule-{index:013}-0000-t1-fallback.json");
            let outcome = writer.write_named(&name, &vec![b'x'; size]).expect("write");
            assert!(matches!(outcome, WriteOutcome::Written { .. }));
            let listed = writer.list().expect("list");
            assert!(listed.len() <= 3, "{listed:?}");
            assert!(listed.iter().map(|e| e.bytes).sum::<u64>() <= 1_000);
            assert_eq!(
                listed.last().map(|e| e.path.clone()),
                Some(dir.path().join(&name))
            );
        }
        let outcome = writer
            .write_named(
                "capsule-9999999999999-0000-t1-fallback.json",
                &[b'x'; 1_001],
            )
            .expect("too large is not an error");
        assert_eq!(
            outcome,
            WriteOutcome::TooLarge {
                bytes: 1_001,
                max_bytes: 1_000
            }
        );
        assert!(dir.path().join("notes.txt").exists(), "other files stay");
    }
}
