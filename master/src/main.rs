//! `sipedge`: the binary. Command-line entry point and the master process (supervision,
//! signals; later admin HTTP and the ctl socket). The master never handles SIP traffic: the
//! workers it forks do.

mod admin;
mod ctl_cmd;
mod logging;
mod metrics;
mod parse_cmd;
mod process;
mod steer_bpf;
mod supervisor;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use shared::config::Config;

/// jemalloc, not glibc's malloc: a worker under call load holds some 100,000 lingering
/// transactions (Timer J keeps each BYE's 64*T1), and glibc's free lists degrade with that
/// many live blocks (measured: CPU per call rose from 39 to 50 µs over 50 s at 4,000
/// calls/s, malloc and free growing to a tenth of it). jemalloc's size classes do not
/// degrade, and it is fork-safe (its own atfork handlers), which the master's fork needs.
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[derive(Parser)]
#[command(
    name = "sipedge",
    version,
    about = "SIP edge proxy and session border controller"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start the master and its workers with the configuration FILE.
    Run {
        #[arg(short, long, value_name = "FILE")]
        config: PathBuf,
    },
    /// Validate the configuration FILE and exit (non-zero on error), like `nginx -t`.
    Check {
        #[arg(short, long, value_name = "FILE")]
        config: PathBuf,
    },
    /// Give the ingress verdict on raw SIP messages read from files (`-` for stdin): accepted,
    /// or rejected with the status and reason the proxy would answer. Exit status 0 only if
    /// every message was accepted.
    Parse(parse_cmd::Args),
    /// Talk to the running master of a configuration: `status`, `reload`.
    Ctl(ctl_cmd::Args),
}

/// Read a configuration file and check it completely (see `supervisor::load_usable`).
fn load(path: &std::path::Path) -> Result<Config, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
    supervisor::load_usable(&text, path)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Parse(args) => parse_cmd::run(&args),
        Command::Ctl(args) => ctl_cmd::run(&args),
        Command::Check { config } => match load(&config) {
            Ok(c) => {
                println!(
                    "{}: configuration is valid ({} listener(s), {} worker(s), {} dispatcher set(s), {} route(s))",
                    config.display(),
                    c.listen.len(),
                    c.worker_count(),
                    c.dispatcher.len(),
                    c.route.len()
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("{e}");
                ExitCode::FAILURE
            }
        },
        Command::Run { config: path } => {
            let config = match load(&path) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("{e}");
                    return ExitCode::FAILURE;
                }
            };
            let logging = match logging::Logging::init(&config.general) {
                Ok(l) => l,
                Err(e) => {
                    eprintln!("{}: {e}", path.display());
                    return ExitCode::FAILURE;
                }
            };
            let master = match supervisor::Master::new(&path, config, logging) {
                Ok(m) => m,
                Err(e) => {
                    tracing::error!("{e}");
                    return ExitCode::FAILURE;
                }
            };
            match master.run() {
                0 => ExitCode::SUCCESS,
                code => ExitCode::from(u8::try_from(code).unwrap_or(1)),
            }
        }
    }
}
