//! Command line: `scopegate serve | hash-secret | keys generate | policy check`.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};
use scopegate_jwt::Algorithm;

/// scopegate: an OAuth2 authorization service issuing role-scoped JWTs and checking API calls.
#[derive(Debug, Parser)]
#[command(name = "scopegate", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server.
    Serve {
        /// TOML configuration file; relative paths in it resolve against its directory.
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// Address to listen on, overriding `server.listen` (port 0 picks a free port).
        #[arg(long)]
        listen: Option<SocketAddr>,
    },
    /// Read a secret from standard input and print its argon2id hash (for policy files).
    HashSecret,
    /// Manage signing keys.
    Keys {
        /// What to do with keys.
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Work with policy files.
    Policy {
        /// What to do with the policy file.
        #[command(subcommand)]
        command: PolicyCommand,
    },
}

/// `scopegate keys …`
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Generate a PKCS#8 PEM signing key; prints it, or writes it (mode 0600) with --out.
    Generate {
        /// EdDSA (default), ES256 or RS256.
        #[arg(long, default_value = "EdDSA")]
        alg: Algorithm,
        /// File to write instead of standard output; never overwritten.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

/// `scopegate policy …`
#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Validate a policy file and print each problem with where it is.
    Check {
        /// The policy file (TOML).
        file: PathBuf,
    },
}
