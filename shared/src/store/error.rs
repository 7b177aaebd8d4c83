//! [`StoreError`]: every way a store operation can fail, with the store path and the
//! operation in its message.

use std::fmt;
use std::path::PathBuf;

/// A store failure. Its `Display` names the store directory, the operation and the table
/// (when there is one), e.g. `store run/store: put registrations: map full (map_size_mb = 1024)`.
#[derive(Debug)]
pub enum StoreError {
    /// The store directory could not be created.
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    /// An option passed to [`super::Store::open_with`] is unusable (e.g. `map_size_mb = 0`).
    InvalidOption { path: PathBuf, message: String },
    /// The LMDB map is full: raise `store.map_size_mb` (the data file keeps its contents).
    MapFull {
        path: PathBuf,
        op: &'static str,
        table: &'static str,
        map_size_mb: usize,
    },
    /// Any other LMDB failure; `table` is empty for environment-wide operations.
    Lmdb {
        path: PathBuf,
        op: &'static str,
        table: &'static str,
        source: lmdb::Error,
    },
    /// A value could not be encoded (MessagePack).
    Encode {
        path: PathBuf,
        table: &'static str,
        message: String,
    },
    /// A stored value could not be decoded: the record is corrupt or from an incompatible
    /// version. `key` is the key as text, NUL separators shown as `\0`.
    Decode {
        path: PathBuf,
        table: &'static str,
        key: String,
        message: String,
    },
    /// A key is empty, longer than LMDB's 511-byte limit, or has a NUL byte in a component
    /// that the key layout separates with NUL.
    InvalidKey {
        path: PathBuf,
        table: &'static str,
        key: String,
        reason: &'static str,
    },
    /// The store was opened in another process (it was inherited across `fork`). LMDB handles
    /// must not be used after fork: open the store again in the child.
    WrongProcess {
        path: PathBuf,
        opened_in: u32,
        used_in: u32,
    },
    /// [`super::Store::write`] was called from inside a write closure on the same thread,
    /// which would deadlock on LMDB's writer lock. Use the `Writer` you were given.
    NestedWrite { path: PathBuf },
    /// A write of the current group commit failed, so the whole group is rolled back at
    /// [`super::Store::end_batch`]; later writes of the group fail with this at once.
    BatchAborted { path: PathBuf },
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::CreateDir { path, source } => {
                write!(f, "store {}: create directory: {source}", path.display())
            }
            Self::InvalidOption { path, message } => {
                write!(f, "store {}: {message}", path.display())
            }
            Self::MapFull {
                path,
                op,
                table,
                map_size_mb,
            } => {
                write!(f, "store {}: ", path.display())?;
                write_op(f, op, table)?;
                write!(
                    f,
                    "map full (map_size_mb = {map_size_mb}); raise store.map_size_mb"
                )
            }
            Self::Lmdb {
                path,
                op,
                table,
                source,
            } => {
                write!(f, "store {}: ", path.display())?;
                write_op(f, op, table)?;
                write!(f, "{source}")
            }
            Self::Encode {
                path,
                table,
                message,
            } => write!(f, "store {}: encode {table}: {message}", path.display()),
            Self::Decode {
                path,
                table,
                key,
                message,
            } => write!(
                f,
                "store {}: decode {table} key {key:?}: {message}",
                path.display()
            ),
            Self::InvalidKey {
                path,
                table,
                key,
                reason,
            } => write!(
                f,
                "store {}: {table}: invalid key {key:?}: {reason}",
                path.display()
            ),
            Self::WrongProcess {
                path,
                opened_in,
                used_in,
            } => write!(
                f,
                "store {}: opened in pid {opened_in} but used in pid {used_in}; \
                 open the store after fork in each process",
                path.display()
            ),
            Self::NestedWrite { path } => write!(
                f,
                "store {}: write called inside a write transaction on the same thread; \
                 use the Writer passed to the closure",
                path.display()
            ),
            Self::BatchAborted { path } => write!(
                f,
                "store {}: an earlier write of this group commit failed; the group is rolled back",
                path.display()
            ),
        }
    }
}

fn write_op(f: &mut fmt::Formatter<'_>, op: &str, table: &str) -> fmt::Result {
    if table.is_empty() {
        write!(f, "{op}: ")
    } else {
        write!(f, "{op} {table}: ")
    }
}

impl std::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::CreateDir { source, .. } => Some(source),
            Self::Lmdb { source, .. } => Some(source),
            _ => None,
        }
    }
}

impl StoreError {
    /// True when the failure is [`StoreError::MapFull`].
    pub fn is_map_full(&self) -> bool {
        matches!(self, Self::MapFull { .. })
    }
}
