//! `scopegate`: see `scopegate --help`.

use std::process::ExitCode;

use clap::Parser;
use scopegate_server::cli::{Cli, ClusterCommand, Command, KeysCommand, PolicyCommand};
use scopegate_server::{Application, Settings, commands, telemetry};

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Serve { config, listen } => {
            let cwd = std::env::current_dir()?;
            let mut settings = Settings::load(config.as_deref(), std::env::vars().collect(), &cwd)?;
            if let Some(listen) = listen {
                settings.server.listen = listen;
            }
            telemetry::init(&settings.log);
            actix_web::rt::System::new().block_on(serve(settings))?;
        }
        Command::HashSecret => commands::hash_secret(std::io::stdin(), std::io::stdout())?,
        Command::Keys {
            command: KeysCommand::Generate { alg, out },
        } => {
            commands::generate_key(alg, out.as_deref())?;
        }
        Command::Policy {
            command: PolicyCommand::Check { file },
        } => {
            return commands::check_policy(&file, std::io::stdout());
        }
        Command::Cluster {
            command: ClusterCommand::Reseed { config, data_dir },
        } => {
            let cwd = std::env::current_dir()?;
            let mut settings = Settings::load(config.as_deref(), std::env::vars().collect(), &cwd)?;
            if let Some(dir) = data_dir {
                settings.storage.data_dir = cwd.join(dir);
            }
            commands::reseed(&settings, std::io::stdout())?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    let app = Application::build(settings).await?;
    // Printed on stdout, one line, so scripts and tests can learn the port when 0 was asked for.
    println!("scopegate listening on http://{}", app.address());
    tracing::info!(address = %app.address(), "listening");
    app.run_until_stopped().await?;
    Ok(())
}
