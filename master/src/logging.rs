//! Log output: tracing, human-readable or JSON, to stderr or to a file that SIGUSR1 reopens
//! (so logrotate can move it away).

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use shared::config::General;
use tracing::level_filters::LevelFilter;

/// Handle kept by the master to reopen the log file.
#[derive(Clone, Default)]
pub struct Logging {
    file: Option<Arc<LogFile>>,
}

struct LogFile {
    path: PathBuf,
    file: Mutex<File>,
}

fn open(path: &PathBuf) -> io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

impl Logging {
    /// Install the global subscriber described by `[general]`.
    pub fn init(general: &General) -> Result<Logging, String> {
        let level: LevelFilter = general
            .log_level
            .parse()
            .map_err(|_| format!("bad log level {:?}", general.log_level))?;
        let file = if general.log_file.is_empty() {
            None
        } else {
            let path = PathBuf::from(&general.log_file);
            let f =
                open(&path).map_err(|e| format!("cannot open log file {}: {e}", path.display()))?;
            Some(Arc::new(LogFile {
                path,
                file: Mutex::new(f),
            }))
        };
        let writer = Writer { file: file.clone() };
        let builder = tracing_subscriber::fmt()
            .with_max_level(level)
            .with_writer(move || writer.clone())
            .with_ansi(false);
        let res = if general.log_format == "json" {
            tracing::subscriber::set_global_default(builder.json().finish())
        } else {
            tracing::subscriber::set_global_default(builder.finish())
        };
        res.map_err(|e| e.to_string())?;
        Ok(Logging { file })
    }

    /// Reopen the log file (SIGUSR1).
    pub fn reopen(&self) -> io::Result<()> {
        if let Some(lf) = &self.file {
            let f = open(&lf.path)?;
            if let Ok(mut slot) = lf.file.lock() {
                *slot = f;
            }
            tracing::info!(path = %lf.path.display(), "log file reopened");
        }
        Ok(())
    }
}

#[derive(Clone)]
struct Writer {
    file: Option<Arc<LogFile>>,
}

impl Write for Writer {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &self.file {
            Some(lf) => match lf.file.lock() {
                Ok(mut f) => f.write(buf),
                Err(_) => Ok(buf.len()),
            },
            None => io::stderr().write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
