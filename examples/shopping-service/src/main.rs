//! `shopping-service`: the quickstart's ShoppingCartAPI protected by scopegate-edge.
//! See README.md for a walk-through.

use std::net::TcpListener;

use clap::Parser as _;
use scopegate_example_shopping::{build, cli};

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    let cli = cli::Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let listener = TcpListener::bind(cli.listen)?;
    let address = listener.local_addr()?;
    let server = build(&cli, listener).await?;
    println!("shopping-service listening on http://{address}");
    server.await?;
    Ok(())
}
