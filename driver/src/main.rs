//! `cinderbox-store`: the multi-store cinder image store on the command line.

use std::fs::File;
use std::io::{BufRead, IsTerminal, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use cinderbox_driver::{AddRequest, DriverError, HashAlgo, StoreState, Stores};
use clap::{Parser, Subcommand};
use serde_json::json;

const EXIT_CODES: &str = "Exit codes:
  0  success
  2  bad input, usage or configuration (also a malformed location or size mismatch)
  3  not found (the image's volume does not exist)
  4  store disabled (its volume type is missing, or no credentials)
  5  backend failure (Cinder/Keystone error, timeout, unreachable, storage full, I/O)";

#[derive(Parser)]
#[command(name = "cinderbox-store", version, about = "Glance's multi-store cinder image store, without Glance", after_help = EXIT_CODES)]
struct Cli {
    /// glance-api.conf to read the stores from.
    #[arg(
        long,
        short = 'c',
        global = true,
        default_value = "/etc/glance/glance-api.conf"
    )]
    config: PathBuf,
    /// Machine-readable JSON output.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List the stores with their type, default flag, description and state.
    Stores,
    /// Upload FILE (or `-` for stdin) as an image; prints its location.
    Upload {
        #[arg(long)]
        store: Option<String>,
        #[arg(long)]
        image_id: Option<String>,
        /// Declared size in bytes (default: the file's size; unknown for stdin).
        #[arg(long)]
        size: Option<u64>,
        /// Multihash algorithm: sha256 or sha512.
        #[arg(long, default_value = "sha256")]
        hashing_algo: HashAlgo,
        file: String,
    },
    /// Download an image to -o FILE or stdout.
    Download {
        location: String,
        #[arg(short = 'o', long)]
        output: Option<PathBuf>,
        #[arg(long, default_value_t = 0)]
        offset: u64,
        #[arg(long)]
        length: Option<u64>,
    },
    /// Print an image's size in bytes.
    Size { location: String },
    /// Delete an image's volume.
    Delete { location: String },
    /// Rewrite legacy cinder://<id> locations to cinder://<store>/<id> (reads stdin when
    /// no location or `-` is given).
    UpgradeLocation { locations: Vec<String> },
}

fn exit_code(err: &anyhow::Error) -> u8 {
    match err.downcast_ref::<DriverError>() {
        Some(
            DriverError::Config(_)
            | DriverError::BadLocation(_)
            | DriverError::UnknownStore(_)
            | DriverError::InvalidInput(_)
            | DriverError::SizeMismatch(_),
        ) => 2,
        Some(DriverError::NotFound { .. }) => 3,
        Some(DriverError::StoreDisabled { .. }) => 4,
        Some(_) => 5,
        None => 2,
    }
}

/// Counts bytes and draws a progress line on stderr when it is a terminal.
struct Progress<R> {
    inner: R,
    done: u64,
    total: Option<u64>,
    shown_mib: u64,
    enabled: bool,
}

impl<R> Progress<R> {
    fn new(inner: R, total: Option<u64>) -> Progress<R> {
        Progress {
            inner,
            done: 0,
            total,
            shown_mib: 0,
            enabled: std::io::stderr().is_terminal(),
        }
    }
    fn tick(&mut self, n: usize) {
        self.done += n as u64;
        let mib = self.done >> 20;
        if self.enabled && (mib > self.shown_mib || n == 0) {
            self.shown_mib = mib;
            match self.total {
                Some(t) if t > 0 => {
                    eprint!("\r{mib} MiB / {} MiB ({}%)", t >> 20, self.done * 100 / t)
                }
                _ => eprint!("\r{mib} MiB"),
            }
        }
    }
    fn end(&self) {
        if self.enabled {
            eprintln!();
        }
    }
}

impl<R: Read> Read for Progress<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.tick(n);
        Ok(n)
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(exit_code(&err))
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    let stores = Stores::open(&cli.config)?;
    let mut out = std::io::stdout().lock();
    match cli.command {
        Command::Stores => {
            let infos = stores.stores();
            if cli.json {
                let list: Vec<_> = infos
                    .iter()
                    .map(|i| {
                        let (state, reason) = match &i.state {
                            None => ("not-served".to_string(), None),
                            Some(StoreState::Enabled) => ("enabled".into(), None),
                            Some(StoreState::Disabled { reason }) => ("disabled".into(), Some(reason.clone())),
                            Some(StoreState::Unverified { reason }) => ("unverified".into(), Some(reason.clone())),
                        };
                        json!({"name": i.name, "kind": i.kind, "type": i.volume_type, "default": i.is_default,
                               "description": i.description, "weight": i.weight, "state": state, "reason": reason})
                    })
                    .collect();
                writeln!(out, "{}", serde_json::to_string_pretty(&list)?)?;
            } else {
                for i in infos {
                    let state = i.state.map_or("not served".to_string(), |s| s.label());
                    writeln!(
                        out,
                        "{}{}\t{}\ttype={}\t{}\t{}",
                        i.name,
                        if i.is_default { " (default)" } else { "" },
                        i.kind,
                        i.volume_type.as_deref().unwrap_or("-"),
                        state,
                        i.description.unwrap_or_default()
                    )?;
                }
            }
        }
        Command::Upload {
            store,
            image_id,
            size,
            hashing_algo,
            file,
        } => {
            let image_id = image_id.unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
            let (reader, size): (Box<dyn Read>, Option<u64>) = if file == "-" {
                (Box::new(std::io::stdin().lock()), size)
            } else {
                let f = File::open(&file).with_context(|| format!("cannot open {file}"))?;
                let len = f.metadata().map(|m| m.len()).ok();
                (Box::new(f), size.or(len))
            };
            let mut request = AddRequest::new(&image_id, size);
            request.hashing_algo = hashing_algo;
            let mut progress = Progress::new(reader, size);
            let result = stores.add(store.as_deref(), &request, &mut progress);
            progress.end();
            let result = result?;
            if cli.json {
                writeln!(out, "{}", serde_json::to_string(&result)?)?;
            } else {
                writeln!(out, "{}", result.location)?;
                eprintln!(
                    "size={} checksum={} multihash={} store={}",
                    result.size, result.checksum, result.multihash, result.store
                );
            }
        }
        Command::Download {
            location,
            output,
            offset,
            length,
        } => {
            let reader = stores.get(&location, offset, length)?;
            let total = reader.remaining();
            let mut progress = Progress::new(reader, Some(total));
            let copied = match &output {
                Some(path) => {
                    let mut f = File::create(path)
                        .with_context(|| format!("cannot create {}", path.display()))?;
                    std::io::copy(&mut progress, &mut f)
                }
                None => std::io::copy(&mut progress, &mut out),
            };
            progress.end();
            let copied = copied.context("download interrupted")?;
            progress.inner.finish()?;
            if cli.json && output.is_some() {
                writeln!(out, "{}", json!({"location": location, "bytes": copied}))?;
            }
        }
        Command::Size { location } => {
            let size = stores.get_size(&location)?;
            if cli.json {
                writeln!(out, "{}", json!({"location": location, "size": size}))?;
            } else {
                writeln!(out, "{size}")?;
            }
        }
        Command::Delete { location } => {
            stores.delete(&location)?;
            if cli.json {
                writeln!(out, "{}", json!({"location": location, "deleted": true}))?;
            }
        }
        Command::UpgradeLocation { locations } => {
            let locations = if locations.is_empty() || locations == ["-"] {
                std::io::stdin()
                    .lock()
                    .lines()
                    .map(|l| l.map(|s| s.trim().to_string()))
                    .filter(|l| l.as_ref().map_or(true, |s| !s.is_empty()))
                    .collect::<std::io::Result<Vec<_>>>()?
            } else {
                locations
            };
            let refs: Vec<&str> = locations.iter().map(String::as_str).collect();
            let results = if refs.len() == 1 {
                vec![stores.upgrade_location(refs[0])]
            } else {
                stores.upgrade_locations(&refs)
            };
            let mut first_error = None;
            let mut rows = Vec::new();
            for (old, new) in locations.iter().zip(results) {
                match new {
                    Ok(new) => {
                        if cli.json {
                            rows.push(
                                json!({"location": old, "upgraded": new, "changed": *old != new}),
                            );
                        } else {
                            writeln!(out, "{new}")?;
                        }
                    }
                    Err(e) => {
                        eprintln!("error: {old}: {e}");
                        if cli.json {
                            rows.push(json!({"location": old, "error": e.to_string()}));
                        }
                        first_error.get_or_insert(e);
                    }
                }
            }
            if cli.json {
                writeln!(out, "{}", serde_json::to_string_pretty(&rows)?)?;
            }
            if let Some(e) = first_error {
                return Err(e.into());
            }
        }
    }
    Ok(())
}
