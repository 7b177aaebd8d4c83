//! `sipedge`: the binary. Command-line entry point; later also the master process
//! (supervision, signals, admin HTTP, ctl socket). It never handles SIP traffic itself.

mod parse_cmd;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

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
    /// Give the ingress verdict on raw SIP messages read from files (`-` for stdin): accepted,
    /// or rejected with the status and reason the proxy would answer. Exit status 0 only if
    /// every message was accepted.
    Parse(parse_cmd::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Parse(args) => parse_cmd::run(&args),
    }
}
