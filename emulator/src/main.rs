//! `cinderbox-emulator serve`: parse flags, start tracing, load the world, bind, and
//! hand the listener to the library.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

use cinderbox_emulator::config::World;

#[derive(Parser)]
#[command(
    name = "cinderbox-emulator",
    version,
    about = "A local Keystone v3 + Cinder v3 with file-backed volumes"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve Keystone under /identity and Cinder under /volume on one listener.
    Serve(ServeArgs),
}

#[derive(Parser)]
struct ServeArgs {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:8776")]
    listen: SocketAddr,
    /// Address of the NFSv3 export of NFS-backed volumes; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:0")]
    nfs_listen: SocketAddr,
    /// Where state (SQLite) and volume files live.
    #[arg(long, default_value = ".cinderbox")]
    data_dir: PathBuf,
    /// A world file (TOML) replacing the built-in default world.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Write a clouds.yaml (cloud `cinderbox`, admin credentials) to this path.
    #[arg(long)]
    clouds_yaml: Option<PathBuf>,
    /// Write the base URL to this file once ready.
    #[arg(long)]
    ready_file: Option<PathBuf>,
    /// Fault rules (TOML, `[[rule]]` tables) in force from the start; see docs/faults.md.
    #[arg(long)]
    scenario: Option<PathBuf>,
    /// Serve the dashboard's data (`/_cinderbox/`) without a token to loopback clients.
    #[arg(long)]
    dashboard_open: bool,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let result = match Cli::parse().command {
        Command::Serve(args) => serve(args).await,
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // One readable line with its causes, not a Debug dump with a backtrace.
            eprintln!("cinderbox-emulator: {e:#}");
            std::process::ExitCode::from(2)
        }
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let world = match &args.config {
        Some(path) => World::load(path)?,
        None => World::default_world(),
    };
    // A bad scenario is refused before anything listens, naming the rule and field.
    let scenario = args
        .scenario
        .as_deref()
        .map(cinderbox_emulator::faults::Scenario::load)
        .transpose()?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let base = cinderbox_emulator::base_url_for(listener.local_addr()?);
    let app = std::sync::Arc::new(
        cinderbox_emulator::App::open_with_scenario(world, &args.data_dir, base.clone(), scenario)
            .with_context(|| format!("cannot open data dir {}", args.data_dir.display()))?,
    );
    app.edge
        .dashboard_open
        .store(args.dashboard_open, std::sync::atomic::Ordering::Relaxed);
    if let Some(path) = &args.clouds_yaml {
        write_clouds_yaml(path, &app.identity_url(), &app.world)?;
    }
    let nfs = app
        .start_nfs(args.nfs_listen)
        .await
        .with_context(|| format!("cannot start the NFS export on {}", args.nfs_listen))?;
    println!(
        "cinderbox-emulator ready: {base} (identity {}) nfs {}",
        app.identity_url(),
        nfs.addr
    );
    if let Some(path) = &args.ready_file {
        std::fs::write(path, format!("{base}\n"))
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    cinderbox_emulator::serve_app(listener, app, shutdown_signal()).await?;
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down: finishing in-flight requests");
}

/// clouds.yaml as openstacksdk reads it: one cloud, the world's admin.
#[derive(serde::Serialize)]
struct CloudsYaml<'a> {
    clouds: std::collections::BTreeMap<&'a str, CloudEntry<'a>>,
}

#[derive(serde::Serialize)]
struct CloudEntry<'a> {
    auth: CloudAuth<'a>,
    region_name: &'a str,
    identity_api_version: u8,
    volume_api_version: u8,
    interface: &'a str,
}

#[derive(serde::Serialize)]
struct CloudAuth<'a> {
    auth_url: &'a str,
    username: &'a str,
    password: &'a str,
    project_name: &'a str,
    user_domain_name: &'a str,
    project_domain_name: &'a str,
}

fn write_clouds_yaml(path: &Path, auth_url: &str, world: &World) -> anyhow::Result<()> {
    let admin = world
        .users
        .iter()
        .find(|u| u.roles.iter().any(|(_, r)| r == "admin"))
        .context("the world has no admin user for clouds.yaml")?;
    let (project_id, _) = admin
        .roles
        .iter()
        .find(|(_, r)| r == "admin")
        .expect("found above");
    let project = world.project(project_id).context("admin project")?;
    let doc = CloudsYaml {
        clouds: [(
            "cinderbox",
            CloudEntry {
                auth: CloudAuth {
                    auth_url,
                    username: &admin.name,
                    password: &admin.password,
                    project_name: &project.name,
                    user_domain_name: "Default",
                    project_domain_name: "Default",
                },
                region_name: &world.region,
                identity_api_version: 3,
                volume_api_version: 3,
                interface: "public",
            },
        )]
        .into(),
    };
    let text = format!(
        "# Written by cinderbox-emulator; use with OS_CLOUD=cinderbox.\n{}",
        serde_yaml_ng::to_string(&doc)?
    );
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    // It holds the admin password: readable by its owner only.
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut file = opts
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    std::io::Write::write_all(&mut file, text.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}
