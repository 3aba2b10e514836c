//! `cinderbox-rust-adapter`: serves the driver adapter protocol (`docs/adapter-protocol.md`)
//! on stdin/stdout over our Rust driver, so that it goes through the same path as any other
//! driver under test.

use std::fs::File;
use std::io::{BufRead, BufWriter, Write};
use std::path::{Path, PathBuf};

use cinderbox_conformance::adapter::{Added, ErrorClass, Request, Response, Store, StoreState};
use cinderbox_conformance::target::{classify, wire_state};
use cinderbox_driver::{AddRequest, DriverError, GlanceConfig, HashAlgo, Stores};
use serde::Deserialize;
use serde_json::{json, Value};

/// An operation's failure: a protocol class and a message.
struct Failure(ErrorClass, String);

impl From<DriverError> for Failure {
    fn from(err: DriverError) -> Failure {
        Failure(classify(&err), err.to_string())
    }
}

fn invalid(message: impl Into<String>) -> Failure {
    Failure(ErrorClass::Invalid, message.into())
}

fn io_failure(what: &str, path: &Path, e: std::io::Error) -> Failure {
    Failure(
        ErrorClass::Backend,
        format!("{what} {}: {e}", path.display()),
    )
}

fn args<T: for<'de> Deserialize<'de>>(value: Value) -> Result<T, Failure> {
    serde_json::from_value(value).map_err(|e| invalid(format!("bad arguments: {e}")))
}

#[derive(Deserialize)]
struct ConfigureArgs {
    glance_config: String,
    work_dir: PathBuf,
}

#[derive(Deserialize)]
struct AddArgs {
    store: Option<String>,
    image_id: String,
    size: Option<u64>,
    data_path: PathBuf,
    hashing_algo: Option<String>,
}

#[derive(Deserialize)]
struct GetArgs {
    location: String,
    #[serde(default)]
    offset: u64,
    length: Option<u64>,
    out_path: PathBuf,
}

#[derive(Deserialize)]
struct LocationArgs {
    location: String,
}

#[derive(Deserialize)]
struct LocationsArgs {
    locations: Vec<String>,
}

#[derive(Default)]
struct Server {
    stores: Option<Stores>,
}

impl Server {
    fn stores_ref(&self) -> Result<&Stores, Failure> {
        self.stores
            .as_ref()
            .ok_or_else(|| invalid("configure first"))
    }

    fn handle(&mut self, op: &str, raw: Value) -> Result<Value, Failure> {
        match op {
            "configure" => {
                let a: ConfigureArgs = args(raw)?;
                std::fs::create_dir_all(&a.work_dir)
                    .map_err(|e| io_failure("cannot create", &a.work_dir, e))?;
                let path = a.work_dir.join("glance-api.conf");
                std::fs::write(&path, &a.glance_config)
                    .map_err(|e| io_failure("cannot write", &path, e))?;
                let config = GlanceConfig::parse(&path.display().to_string(), &a.glance_config)
                    .map_err(DriverError::Config)?;
                for warning in &config.warnings {
                    eprintln!("config warning: {warning}");
                }
                self.stores = None;
                self.stores = Some(Stores::configure(config)?);
                Ok(json!({ "stores": self.list()? }))
            }
            "stores" => Ok(serde_json::to_value(self.list()?).unwrap_or(Value::Null)),
            "add" => {
                let a: AddArgs = args(raw)?;
                let algo: HashAlgo = a
                    .hashing_algo
                    .as_deref()
                    .unwrap_or("sha256")
                    .parse()
                    .map_err(invalid)?;
                let mut request = AddRequest::new(&a.image_id, a.size);
                request.hashing_algo = algo;
                let mut data = File::open(&a.data_path)
                    .map_err(|e| io_failure("cannot open", &a.data_path, e))?;
                let r = self
                    .stores_ref()?
                    .add(a.store.as_deref(), &request, &mut data)?;
                let added = Added {
                    location: r.location,
                    size: r.size,
                    checksum: r.checksum,
                    multihash: r.multihash,
                    store: r.store,
                };
                Ok(serde_json::to_value(added).unwrap_or(Value::Null))
            }
            "get" => {
                let a: GetArgs = args(raw)?;
                let mut reader = self.stores_ref()?.get(&a.location, a.offset, a.length)?;
                let file = File::create(&a.out_path)
                    .map_err(|e| io_failure("cannot create", &a.out_path, e))?;
                let mut out = BufWriter::new(file);
                let bytes = std::io::copy(&mut reader, &mut out)
                    .and_then(|n| out.flush().map(|()| n))
                    .map_err(|e| {
                        Failure(ErrorClass::Backend, format!("reading {}: {e}", a.location))
                    })?;
                reader.finish()?;
                Ok(json!({ "bytes": bytes }))
            }
            "get_size" => {
                let a: LocationArgs = args(raw)?;
                Ok(json!({ "size": self.stores_ref()?.get_size(&a.location)? }))
            }
            "delete" => {
                let a: LocationArgs = args(raw)?;
                self.stores_ref()?.delete(&a.location)?;
                Ok(json!({}))
            }
            "upgrade_location" => {
                let a: LocationArgs = args(raw)?;
                Ok(json!({ "location": self.stores_ref()?.upgrade_location(&a.location)? }))
            }
            "upgrade_locations" => {
                let a: LocationsArgs = args(raw)?;
                let refs: Vec<&str> = a.locations.iter().map(String::as_str).collect();
                let results: Vec<Value> = self
                    .stores_ref()?
                    .upgrade_locations(&refs)
                    .into_iter()
                    .map(|r| match r {
                        Ok(location) => json!({ "location": location }),
                        Err(e) => {
                            json!({"error": {"class": classify(&e), "message": e.to_string()}})
                        }
                    })
                    .collect();
                Ok(json!({ "results": results }))
            }
            other => Err(Failure(
                ErrorClass::Unsupported,
                format!("unknown op '{other}'"),
            )),
        }
    }

    fn list(&self) -> Result<Vec<Store>, Failure> {
        Ok(self
            .stores_ref()?
            .stores()
            .into_iter()
            .map(|s| {
                let (state, reason) = match s.state {
                    Some(state) => wire_state(state),
                    None => (
                        StoreState::Disabled,
                        Some(format!(
                            "a '{}' store; this adapter serves cinder stores",
                            s.kind
                        )),
                    ),
                };
                Store {
                    name: s.name,
                    volume_type: s.volume_type,
                    default: s.is_default,
                    state,
                    reason,
                }
            })
            .collect())
    }
}

fn answer(out: &mut impl Write, response: &Response) -> std::io::Result<()> {
    let line = serde_json::to_string(response).map_err(std::io::Error::other)?;
    writeln!(out, "{line}")?;
    out.flush()
}

fn main() -> std::io::Result<()> {
    let stdin = std::io::stdin().lock();
    let mut stdout = std::io::stdout().lock();
    let mut server = Server::default();
    for line in stdin.lines() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let request: Request = match serde_json::from_str(&line) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("malformed request: {e}");
                answer(
                    &mut stdout,
                    &Response::err(None, ErrorClass::Invalid, format!("malformed request: {e}")),
                )?;
                continue;
            }
        };
        if request.op == "shutdown" {
            return answer(&mut stdout, &Response::ok(request.id, json!({})));
        }
        let response = match server.handle(&request.op, request.args) {
            Ok(result) => Response::ok(request.id, result),
            Err(Failure(class, message)) => {
                eprintln!("{} failed ({class}): {message}", request.op);
                Response::err(Some(request.id), class, message)
            }
        };
        answer(&mut stdout, &response)?;
    }
    Ok(())
}
