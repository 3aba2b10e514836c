//! `AdapterTarget`: the runner's `Target` over a driver adapter process
//! (`docs/adapter-protocol.md`). Image bytes go to the adapter through a file in its work
//! directory and come back the same way. One adapter process serves a whole worker: each
//! case re-sends `configure`; an adapter that broke the protocol is replaced for the next
//! case.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use crate::adapter::{Adapter, AdapterCommand, AdapterError, Added, ErrorClass, Store};
use crate::target::{Target, TargetError};

/// The class a driver's answer is compared by: its own, except `unsupported`, which the
/// model never expects: a driver that cannot do an operation the suite needs fails the
/// case (`None`).
pub fn comparable(class: ErrorClass) -> Option<ErrorClass> {
    match class {
        ErrorClass::Unsupported => None,
        ErrorClass::NotFound
        | ErrorClass::Disabled
        | ErrorClass::BadLocation
        | ErrorClass::StorageFull
        | ErrorClass::SizeMismatch
        | ErrorClass::Invalid
        | ErrorClass::Backend => Some(class),
    }
}

/// One worker's adapter process, spawned on first use and again after it broke.
pub struct AdapterPool {
    command: AdapterCommand,
    current: Mutex<Option<(Arc<Adapter>, Arc<AtomicBool>)>>,
    work_dir: Arc<tempfile::TempDir>,
}

impl AdapterPool {
    pub fn new(command: AdapterCommand) -> std::io::Result<AdapterPool> {
        Ok(AdapterPool {
            command,
            current: Mutex::new(None),
            work_dir: Arc::new(
                tempfile::Builder::new()
                    .prefix("cinderbox-adapter-")
                    .tempdir()?,
            ),
        })
    }

    /// A target over the live adapter (spawning one if there is none or it broke). A spawn
    /// failure is reported by the target's first call.
    pub fn target(&self) -> AdapterTarget {
        let mut current = self.current.lock().unwrap_or_else(|p| p.into_inner());
        if current
            .as_ref()
            .is_some_and(|(_, broken)| broken.load(Ordering::SeqCst))
        {
            *current = None;
        }
        let adapter = match &*current {
            Some((a, broken)) => Ok((a.clone(), broken.clone())),
            None => match Adapter::spawn(&self.command) {
                Ok(a) => {
                    let entry = (Arc::new(a), Arc::new(AtomicBool::new(false)));
                    *current = Some(entry.clone());
                    Ok(entry)
                }
                Err(e) => Err(e.to_string()),
            },
        };
        AdapterTarget {
            adapter,
            work_dir: self.work_dir.clone(),
        }
    }
}

/// A `Target` whose every call is one protocol request.
pub struct AdapterTarget {
    adapter: Result<(Arc<Adapter>, Arc<AtomicBool>), String>,
    work_dir: Arc<tempfile::TempDir>,
}

impl AdapterTarget {
    fn adapter(&self) -> Result<&Adapter, TargetError> {
        match &self.adapter {
            Ok((a, _)) => Ok(a),
            Err(e) => Err(TargetError::new(ErrorClass::Backend, e.clone())),
        }
    }

    /// A driver's answer becomes a `TargetError`; an adapter that misbehaved (or a driver
    /// answering `unsupported`) fails the case at once: there is no class to compare.
    fn wrap(&self, op: &str, err: AdapterError) -> TargetError {
        match &err {
            AdapterError::Driver { class, message } => match comparable(*class) {
                Some(c) => TargetError::new(c, message.clone()),
                None => panic!("adapter: the driver does not support '{op}': {message}"),
            },
            AdapterError::Timeout { .. } | AdapterError::Protocol(_) => {
                if let Ok((_, broken)) = &self.adapter {
                    broken.store(true, Ordering::SeqCst);
                }
                panic!("adapter: '{op}' failed: {err}")
            }
        }
    }

    fn scratch(&self, what: &str) -> Result<tempfile::TempPath, TargetError> {
        tempfile::Builder::new()
            .prefix(what)
            .tempfile_in(self.work_dir.path())
            .map(tempfile::NamedTempFile::into_temp_path)
            .map_err(|e| TargetError::new(ErrorClass::Backend, format!("scratch file: {e}")))
    }
}

fn io_error(what: &str, path: &Path, e: std::io::Error) -> TargetError {
    TargetError::new(
        ErrorClass::Backend,
        format!("{what} {}: {e}", path.display()),
    )
}

impl Target for AdapterTarget {
    fn configure(&mut self, file: &str, glance_api_conf: &str) -> Result<(), TargetError> {
        let adapter = self.adapter()?;
        adapter
            .configure(glance_api_conf, self.work_dir.path())
            .map(drop)
            .map_err(|e| match e {
                AdapterError::Driver { message, class } => TargetError::new(
                    comparable(class).unwrap_or(ErrorClass::Backend),
                    format!("{file}: {message}"),
                ),
                other => self.wrap("configure", other),
            })
    }

    fn stores(&self) -> Result<Vec<Store>, TargetError> {
        self.adapter()?.stores().map_err(|e| self.wrap("stores", e))
    }

    fn add(
        &self,
        store: Option<&str>,
        image_id: &str,
        size: Option<u64>,
        data: &mut dyn Read,
    ) -> Result<Added, TargetError> {
        let adapter = self.adapter()?;
        let path = self.scratch("add-")?;
        let mut out =
            BufWriter::new(File::create(&path).map_err(|e| io_error("create", &path, e))?);
        std::io::copy(data, &mut out).map_err(|e| io_error("write", &path, e))?;
        out.flush().map_err(|e| io_error("write", &path, e))?;
        drop(out);
        adapter
            .add(store, image_id, size, &path)
            .map_err(|e| self.wrap("add", e))
    }

    fn get(
        &self,
        location: &str,
        offset: u64,
        length: Option<u64>,
        sink: &mut dyn Write,
    ) -> Result<u64, TargetError> {
        let adapter = self.adapter()?;
        let path = self.scratch("get-")?;
        let reported = adapter
            .get(location, offset, length, &path)
            .map_err(|e| self.wrap("get", e))?;
        let file = File::open(&path).map_err(|e| io_error("open", &path, e))?;
        let copied = std::io::copy(&mut BufReader::new(file), sink)
            .map_err(|e| io_error("read", &path, e))?;
        if copied != reported {
            return Err(TargetError::new(
                ErrorClass::Backend,
                format!("the adapter reported {reported} bytes but wrote {copied}"),
            ));
        }
        Ok(copied)
    }

    fn get_size(&self, location: &str) -> Result<u64, TargetError> {
        self.adapter()?
            .get_size(location)
            .map_err(|e| self.wrap("get_size", e))
    }

    fn delete(&self, location: &str) -> Result<(), TargetError> {
        self.adapter()?
            .delete(location)
            .map_err(|e| self.wrap("delete", e))
    }

    fn upgrade_location(&self, location: &str) -> Result<String, TargetError> {
        self.adapter()?
            .upgrade_location(location)
            .map_err(|e| self.wrap("upgrade_location", e))
    }

    fn upgrade_locations(&self, locations: &[&str]) -> Vec<Result<String, TargetError>> {
        let answered = self.adapter().and_then(|a| {
            a.upgrade_locations(locations)
                .map_err(|e| self.wrap("upgrade_locations", e))
        });
        match answered {
            Ok(results) => results
                .into_iter()
                .map(|r| r.map_err(|e| self.wrap("upgrade_locations", e)))
                .collect(),
            Err(e) => locations.iter().map(|_| Err(e.clone())).collect(),
        }
    }
}
