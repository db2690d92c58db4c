//! Command line: `scopegate serve | hash-secret | keys generate | policy check | cluster reseed`.

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
    /// Cluster-mode maintenance.
    Cluster {
        /// What to do.
        #[command(subcommand)]
        command: ClusterCommand,
    },
}

/// `scopegate cluster …`
#[derive(Debug, Subcommand)]
pub enum ClusterCommand {
    /// Put a node's local snapshot (policy, signing keys, revocations) back into a Redis that
    /// lost its data. Writes only if Redis holds no policy or an older one than the snapshot.
    Reseed {
        /// The node's TOML configuration file (Redis, key prefix, data directory).
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// The data directory to read the snapshot from, instead of `storage.data_dir`.
        #[arg(long)]
        data_dir: Option<PathBuf>,
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
