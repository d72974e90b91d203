//! The `irisgate` binary: parse the command line and config, start logging, run the gateway.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use irisgate::Config;
use tokio_util::sync::CancellationToken;

#[derive(Parser)]
#[command(name = "irisgate", version, about = "Campaign gateway for BLiP LIME clients")]
struct Cli {
    #[command(subcommand)]
    command: Commands,
}

#[derive(Subcommand)]
enum Commands {
    /// Run the gateway.
    Serve {
        /// TOML configuration file; without it a development workspace is used.
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// Address to listen on (overrides `listen` of the config).
        #[arg(long, short)]
        listen: Option<std::net::SocketAddr>,
        /// Address of the metrics port (overrides `[metrics] listen`; "" turns metrics off).
        #[arg(long)]
        metrics_listen: Option<String>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let Commands::Serve { config, listen, metrics_listen } = cli.command;
    let development = config.is_none();
    let config = match config {
        Some(path) => match Config::load(&path) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("irisgate: invalid configuration: {e}");
                return ExitCode::from(2);
            }
        },
        None => Config::development(),
    };
    let mut config = config;
    irisgate::logging::init(config.log_format);
    if let Some(metrics) = metrics_listen {
        config.metrics.listen = if metrics.trim().is_empty() {
            None
        } else {
            match metrics.trim().parse() {
                Ok(addr) => Some(addr),
                Err(_) => {
                    eprintln!("irisgate: --metrics-listen: \"{metrics}\" is not an address (\"\" turns metrics off)");
                    return ExitCode::from(2);
                }
            }
        };
    }
    let addr = listen.unwrap_or(config.listen);
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    runtime.block_on(async move {
        let listener = match tokio::net::TcpListener::bind(addr).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("irisgate: cannot listen on {addr}: {e}");
                return ExitCode::from(1);
            }
        };
        let shutdown = CancellationToken::new();
        if let Err(e) = irisgate::shutdown::on_signals(shutdown.clone()) {
            eprintln!("irisgate: cannot install signal handlers: {e}");
            return ExitCode::from(1);
        }
        if development {
            print_development_banner(&config, listener.local_addr().unwrap_or(addr));
        }
        match irisgate::run(listener, config, shutdown).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("irisgate: {e}");
                ExitCode::from(1)
            }
        }
    })
}

fn print_development_banner(config: &Config, addr: std::net::SocketAddr) {
    use base64::Engine as _;
    let tenant = &config.tenants[0];
    let secret = irisgate::config::decode_base64(&tenant.access_key).unwrap_or_default();
    let mut token = tenant.identifier.as_bytes().to_vec();
    token.push(b':');
    token.extend_from_slice(&secret);
    let token = base64::engine::general_purpose::STANDARD.encode(token);
    println!("No --config given: running the development workspace (irisgate.example.toml).");
    println!("  WebSocket:  ws://{addr}  identifier {}  access key {}", tenant.identifier, tenant.access_key);
    println!("  HTTP:       POST http://{addr}/commands  with  Authorization: Key {token}");
    if let Some(key) = tenant.api_keys.first() {
        println!("  REST:       http://{addr}/api/v1  with  X-API-Key: {key}");
    }
}
