//! The `pfslab` command: argument parsing and exit codes; each command's work is in `cli`, and
//! the lab itself in the library.
//!
//! Exit codes: 0 success; 1 the command failed (message on stderr); 2 bad usage.

use std::process::ExitCode;

/// See `cli::allocator`.
#[global_allocator]
static ALLOCATOR: cli::allocator::LabAllocator = cli::allocator::LabAllocator;

use clap::{Parser, Subcommand};

mod cli;

use cli::attack::AttackArgs;
use cli::client::ClientArgs;
use cli::explain::ExplainArgs;
use cli::inspect::InspectArgs;
use cli::keygen::KeygenArgs;
use cli::mitm::MitmArgs;
use cli::record::RecordArgs;
use cli::report::ReportArgs;
use cli::server::ServerArgs;
use cli::tap::TapArgs;

#[derive(Parser)]
#[command(
    name = "pfslab",
    version,
    about = "A forward-secrecy attack lab: real TLS 1.2 and 1.3, real captures, a real attacker.",
    long_about = "A forward-secrecy attack lab.\n\nThe lab's server and client talk TLS 1.2 with RSA key transport \
(TLS_RSA_WITH_AES_128_GCM_SHA256) or ephemeral ECDHE (TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256), and TLS 1.3. \
Record their traffic, steal the server's RSA key, and see which sessions fall.\n\n\
Exit codes: 0 success, 1 the command failed, 2 bad usage."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Generate the server's RSA key (PKCS#8 PEM, mode 0600) and a self-signed certificate.
    Keygen(KeygenArgs),
    /// Run the lab's TLS server (a tiny HTTP/1.0 bank; TLS 1.3 or 1.2 as the client offers) until interrupted.
    Server(ServerArgs),
    /// Connect to a TLS server with one suite (TLS 1.2) or TLS 1.3, send one request, print the response.
    Client(ClientArgs),
    /// Relay TCP connections to an upstream server and record every byte into a pcap file.
    Tap(TapArgs),
    /// Run the lab server, the tap and a class's clients: write a capture and its answer key.
    Record(RecordArgs),
    /// Show what an eavesdropper sees in captures without any key, one row per TLS session.
    Inspect(InspectArgs),
    /// Decrypt what a stolen server key (or a leaked key log) opens; explain what it cannot.
    Attack(AttackArgs),
    /// Walk through one session byte by byte: what crossed the wire, and every secret derived.
    Explain(ExplainArgs),
    /// Write one self-contained HTML page for a class: per session the handshake, the secrets, what fell.
    Report(ReportArgs),
    /// Man in the middle with a stolen server key: pose as the server, relay to it, read everything.
    Mitm(MitmArgs),
    /// Find, in a server's memory (live process or core file), every secret that opens captured sessions.
    #[command(long_about = cli::memscan::LONG_ABOUT)]
    Memscan(cli::memscan::MemscanArgs),
    /// Make a backdoored finite-field DH group (p-1 has only small factors) and its factorisation.
    Dhparams(cli::dhparams::DhparamsArgs),
    /// Decrypt a recorded RSA session by asking a live server with a padding oracle (Bleichenbacher).
    OracleAttack(cli::oracle_attack::OracleAttackArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    cli::logger::install();
    let result = match cli.command {
        Command::Keygen(a) => cli::keygen::run(a),
        Command::Dhparams(a) => cli::dhparams::run(a),
        Command::Server(a) => cli::server::run(a),
        Command::Client(a) => cli::client::run(a),
        Command::Tap(a) => cli::tap::run(a),
        Command::Record(a) => cli::record::run(a),
        Command::Inspect(a) => cli::inspect::run(a),
        Command::Attack(a) => cli::attack::run(a),
        Command::Explain(a) => cli::explain::run(a),
        Command::Report(a) => cli::report::run(a),
        Command::Mitm(a) => cli::mitm::run(a),
        Command::Memscan(a) => cli::memscan::run(a),
        Command::OracleAttack(a) => cli::oracle_attack::run(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pfslab: error: {e:#}");
            ExitCode::from(1)
        }
    }
}
