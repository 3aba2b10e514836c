//! The `cinderbox-store` command line (in the library so that a test package can build
//! the very same binary: see `conformance/src/bin/cinderbox-store-under-test.rs`).

mod failure;
mod progress;

use std::fs::File;
use std::io::{BufRead, BufReader, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::{AddRequest, DriverError, HashAlgo, StoreInfo, StoreState, Stores};
use clap::{Parser, Subcommand};
use serde_json::{json, Value};

pub use failure::{Code, Failure, EXIT_CODES};
use progress::Counted;

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
    /// Machine-readable JSON on stdout (errors as JSON on stderr).
    #[arg(long, global = true)]
    json: bool,
    /// No progress, no summary line and no warnings on stderr; errors only.
    #[arg(long, short = 'q', global = true)]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List the stores with their type, default flag, description and state (checks every
    /// store; exit code 5 when one could not be checked).
    Stores,
    /// Upload FILE as an image; prints its location (`cinder://<store>/<volume-id>`).
    Upload {
        /// Store to upload into (default: the configuration's default_backend).
        #[arg(long)]
        store: Option<String>,
        /// Glance image id, a UUID (default: a new random one); the volume is named
        /// image-<id>.
        #[arg(long)]
        image_id: Option<uuid::Uuid>,
        /// Declared size in bytes (default: the size of a regular file; unknown for stdin,
        /// pipes, FIFOs and devices, whose volume then grows as data arrives).
        #[arg(long)]
        size: Option<u64>,
        /// Multihash algorithm: sha256 or sha512.
        #[arg(long, default_value = "sha256")]
        hashing_algo: HashAlgo,
        /// The image: a file, a FIFO, a device, or `-` for stdin.
        file: String,
    },
    /// Download an image to -o FILE or stdout.
    Download {
        /// The image's location (`cinder://<store>/<id>` or legacy `cinder://<id>`).
        location: String,
        /// File to write (default: stdout).
        #[arg(short = 'o', long)]
        output: Option<PathBuf>,
        /// First byte to read.
        #[arg(long, default_value_t = 0)]
        offset: u64,
        /// Bytes to read from the offset (default: to the end of the image).
        #[arg(long)]
        length: Option<u64>,
    },
    /// Print an image's size in bytes.
    Size {
        /// The image's location (`cinder://<store>/<id>` or legacy `cinder://<id>`).
        location: String,
    },
    /// Delete an image's volume (only through the store whose volume type it has).
    Delete {
        /// The image's location (`cinder://<store>/<id>` or legacy `cinder://<id>`).
        location: String,
    },
    /// Rewrite legacy cinder://<id> locations to cinder://<store>/<id>: one output line per
    /// input line (unchanged when no store matches, or on error, reported on stderr).
    UpgradeLocation {
        /// Locations to upgrade; none or `-` reads them from stdin, one per line.
        locations: Vec<String>,
    },
}

/// Parses the arguments, runs the command, prints a failure once and returns its code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let level = if cli.quiet { "error" } else { "warn" };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level)),
        )
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .init();
    let json = cli.json;
    let failure = match run(cli) {
        Ok(()) => return ExitCode::SUCCESS,
        Err(failure) => failure,
    };
    if failure.needs_printing() {
        let code = failure.code().map_or(0, |c| c as u8);
        if json {
            eprintln!(
                "{}",
                json!({"error": failure.to_string(), "exit_code": code})
            );
        } else {
            eprintln!("error: {failure}");
        }
    }
    ExitCode::from(failure.code().map_or(0, |c| c as u8))
}

/// Writes one line to stdout.
fn say(out: &mut dyn Write, line: impl std::fmt::Display) -> Result<(), Failure> {
    writeln!(out, "{line}").map_err(Failure::stdout)
}

fn run(cli: Cli) -> Result<(), Failure> {
    let stores = Stores::open(&cli.config)?;
    let mut out = std::io::stdout().lock();
    let show_progress = !cli.quiet && !cli.json;
    match cli.command {
        Command::Stores => list(&stores, &mut out, cli.json),
        Command::Upload {
            store,
            image_id,
            size,
            hashing_algo,
            file,
        } => {
            let image_id = image_id.unwrap_or_else(uuid::Uuid::new_v4).to_string();
            let (reader, size) = open_input(&file, size)?;
            let mut request = AddRequest::new(&image_id, size);
            request.hashing_algo = hashing_algo;
            let bar = progress::bar(size, show_progress);
            let mut counted = Counted { inner: reader, bar };
            let result = stores.add(store.as_deref(), &request, &mut counted);
            counted.bar.finish_and_clear();
            let result = result?;
            if cli.json {
                let row = serde_json::to_value(&result).unwrap_or(Value::Null);
                return say(&mut out, row);
            }
            if !cli.quiet {
                eprintln!(
                    "size={} checksum={} multihash={} store={}",
                    result.size, result.checksum, result.multihash, result.store
                );
            }
            say(&mut out, result.location)
        }
        Command::Download {
            location,
            output,
            offset,
            length,
        } => {
            let reader = stores.get(&location, offset, length)?;
            let bar = progress::bar(Some(reader.remaining()), show_progress);
            let mut counted = Counted { inner: reader, bar };
            let copied = match &output {
                Some(path) => {
                    let mut f = File::create(path).map_err(|source| Failure::Output {
                        what: path.display().to_string(),
                        source,
                    })?;
                    copy(&mut counted, &mut f, |source| Failure::Output {
                        what: path.display().to_string(),
                        source,
                    })
                    .and_then(|n| {
                        f.sync_all().map_err(|source| Failure::Output {
                            what: path.display().to_string(),
                            source,
                        })?;
                        Ok(n)
                    })
                }
                None => copy(&mut counted, &mut out, Failure::stdout)
                    .and_then(|n| out.flush().map(|()| n).map_err(Failure::stdout)),
            };
            counted.bar.finish_and_clear();
            let copied = copied?;
            counted.inner.finish()?;
            let row = json!({"location": location, "bytes": copied, "output": output.as_deref().map(Path::display).map(|d| d.to_string())});
            match (cli.json, output.is_some()) {
                (true, true) => say(&mut out, row),
                // the image itself is on stdout: the summary goes to stderr
                (true, false) => {
                    eprintln!("{row}");
                    Ok(())
                }
                (false, _) => Ok(()),
            }
        }
        Command::Size { location } => {
            let size = stores.get_size(&location)?;
            if cli.json {
                say(&mut out, json!({"location": location, "size": size}))
            } else {
                say(&mut out, size)
            }
        }
        Command::Delete { location } => {
            stores.delete(&location)?;
            if cli.json {
                say(&mut out, json!({"location": location, "deleted": true}))
            } else {
                Ok(())
            }
        }
        Command::UpgradeLocation { locations } => upgrade(&stores, locations, &mut out, cli.json),
    }
}

/// Opens what to upload; a regular file's length is its size, any other stream's size is
/// unknown unless given. The first bytes are read here, so that an unreadable input
/// (a directory, a permission problem) fails before anything is created in Cinder.
fn open_input(file: &str, size: Option<u64>) -> Result<(Box<dyn Read>, Option<u64>), Failure> {
    let input = |source| Failure::Input {
        what: if file == "-" {
            "stdin".to_string()
        } else {
            file.to_string()
        },
        source,
    };
    let (reader, size): (Box<dyn Read>, Option<u64>) = if file == "-" {
        (Box::new(std::io::stdin().lock()), size)
    } else {
        let f = File::open(file).map_err(input)?;
        let meta = f.metadata().map_err(input)?;
        if meta.is_dir() {
            return Err(input(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "it is a directory",
            )));
        }
        let known = meta.is_file().then_some(meta.len());
        (Box::new(f), size.or(known))
    };
    // Small buffer: once it is drained, the driver's 4 MiB reads bypass it.
    let mut buffered = BufReader::with_capacity(64 << 10, reader);
    buffered.fill_buf().map_err(input)?;
    Ok((Box::new(buffered), size))
}

/// Copies to the end, telling a failing read (the volume) from a failing write.
fn copy(
    from: &mut dyn Read,
    to: &mut dyn Write,
    write_failed: impl Fn(std::io::Error) -> Failure,
) -> Result<u64, Failure> {
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0u64;
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(source) => {
                return Err(Failure::Driver(DriverError::Io {
                    path: "the image's volume".into(),
                    source,
                }))
            }
        };
        to.write_all(&buf[..n]).map_err(&write_failed)?;
        total += n as u64;
    }
}

fn state_of(info: &StoreInfo) -> (&'static str, Option<&str>) {
    match &info.state {
        None => ("not-served", None),
        Some(StoreState::Enabled) => ("enabled", None),
        Some(StoreState::Disabled { reason }) => ("disabled", Some(reason)),
        Some(StoreState::Unverified { reason }) => ("unverified", Some(reason)),
    }
}

fn list(stores: &Stores, out: &mut dyn Write, json: bool) -> Result<(), Failure> {
    let infos = stores.stores();
    if json {
        let list: Vec<_> = infos
            .iter()
            .map(|i| {
                let (state, reason) = state_of(i);
                json!({"name": i.name, "kind": i.kind, "type": i.volume_type, "default": i.is_default,
                       "description": i.description, "weight": i.weight, "state": state, "reason": reason})
            })
            .collect();
        say(out, Value::Array(list))?;
    } else {
        for i in &infos {
            let state = i
                .state
                .as_ref()
                .map_or("not served".to_string(), |s| s.label());
            say(
                out,
                format_args!(
                    "{}{}\t{}\ttype={}\t{}\t{}",
                    i.name,
                    if i.is_default { " (default)" } else { "" },
                    i.kind,
                    i.volume_type.as_deref().unwrap_or("-"),
                    state,
                    i.description.as_deref().unwrap_or_default()
                ),
            )?;
        }
    }
    let unchecked: Vec<&str> = infos
        .iter()
        .filter(|i| matches!(i.state, Some(StoreState::Unverified { .. })))
        .map(|i| i.name.as_str())
        .collect();
    if unchecked.is_empty() {
        return Ok(());
    }
    Err(Failure::Message {
        code: Code::Backend,
        text: format!(
            "{} of {} cinder stores could not be checked ({}): Cinder or Keystone could not be asked",
            unchecked.len(),
            infos.iter().filter(|i| i.state.is_some()).count(),
            unchecked.join(", ")
        ),
    })
}

fn upgrade(
    stores: &Stores,
    locations: Vec<String>,
    out: &mut dyn Write,
    json: bool,
) -> Result<(), Failure> {
    let locations = if locations.is_empty() || locations == ["-"] {
        std::io::stdin()
            .lock()
            .lines()
            .map(|l| l.map(|s| s.trim().to_string()))
            .filter(|l| l.as_ref().map_or(true, |s| !s.is_empty()))
            .collect::<std::io::Result<Vec<_>>>()
            .map_err(|source| Failure::Input {
                what: "stdin".into(),
                source,
            })?
    } else {
        locations
    };
    let refs: Vec<&str> = locations.iter().map(String::as_str).collect();
    let results = if refs.len() == 1 {
        vec![stores.upgrade_location(refs[0])]
    } else {
        stores.upgrade_locations(&refs)
    };
    let mut first_error: Option<Code> = None;
    let mut rows = Vec::new();
    for (old, new) in locations.iter().zip(results) {
        match new {
            Ok(new) if json => {
                rows.push(json!({"location": old, "upgraded": new, "changed": *old != new}))
            }
            Ok(new) => say(out, new)?,
            Err(e) => {
                first_error.get_or_insert(Code::of(&e));
                if json {
                    rows.push(json!({"location": old, "error": e.to_string(), "exit_code": Code::of(&e) as u8}));
                } else {
                    // the row stays in place, unchanged; the error is said once, on stderr
                    eprintln!("error: {old}: {e}");
                    say(out, old)?;
                }
            }
        }
    }
    if json {
        say(out, Value::Array(rows))?;
    }
    first_error.map_or(Ok(()), |code| Err(Failure::Reported(code)))
}
