//! One concurrent worker: our driver in process or an adapter process, with the calls
//! the concurrent mode makes, errors as the model's classes.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{anyhow, Result};
use cinderbox_digest::Md5;

use super::{Driver, Got};
use crate::adapter::Adapter;
use crate::adapter_target::comparable;
use crate::model::{Content, ErrorClass};
use crate::target::{DriverTarget, Target};

pub(super) enum Worker {
    Rust(DriverTarget),
    Adapter { adapter: Adapter, dir: PathBuf },
}

fn class_of(e: &crate::adapter::AdapterError) -> ErrorClass {
    e.class()
        .and_then(comparable)
        .unwrap_or(ErrorClass::Backend)
}

impl Worker {
    pub(super) fn start(driver: &Driver, conf: &str, dir: PathBuf) -> Result<Worker> {
        std::fs::create_dir_all(&dir)?;
        Ok(match driver {
            Driver::Rust => {
                let mut t = DriverTarget::new();
                t.configure("glance-api.conf", conf)
                    .map_err(|e| anyhow!("configure: {e}"))?;
                Worker::Rust(t)
            }
            Driver::Adapter(command) => {
                let adapter = Adapter::spawn(command)?;
                adapter.configure(conf, &dir)?;
                Worker::Adapter { adapter, dir }
            }
        })
    }

    pub(super) fn add(&self, image_id: &str, content: Content) -> Result<String, ErrorClass> {
        match self {
            Worker::Rust(t) => t
                .add(None, image_id, Some(content.len), &mut content.reader())
                .map(|a| a.location)
                .map_err(|e| e.class),
            Worker::Adapter { adapter, dir } => {
                let path = dir.join(format!("{image_id}.in"));
                std::fs::write(&path, content.bytes(0, content.len))
                    .map_err(|_| ErrorClass::Backend)?;
                let added = adapter.add(None, image_id, Some(content.len), &path);
                let _ = std::fs::remove_file(&path);
                added.map(|a| a.location).map_err(|e| class_of(&e))
            }
        }
    }

    /// Reads the whole image; adapters as Glance does (see the module comment).
    pub(super) fn get(&self, location: &str) -> Result<Got, ErrorClass> {
        let mut md5 = Md5::new();
        let len = match self {
            Worker::Rust(t) => {
                struct Hashing<'a>(&'a mut Md5);
                impl Write for Hashing<'_> {
                    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                        self.0.update(b);
                        Ok(b.len())
                    }
                    fn flush(&mut self) -> std::io::Result<()> {
                        Ok(())
                    }
                }
                t.get(location, 0, None, &mut Hashing(&mut md5))
                    .map_err(|e| e.class)?
            }
            Worker::Adapter { adapter, dir } => {
                let out = dir.join("read.out");
                adapter
                    .get_held_open(location, None, &out)
                    .map_err(|e| class_of(&e))?;
                let bytes = std::fs::read(&out).map_err(|_| ErrorClass::Backend)?;
                md5.update(&bytes);
                bytes.len() as u64
            }
        };
        Ok(Got::Bytes {
            len,
            md5: md5.finish_hex(),
        })
    }

    pub(super) fn get_size(&self, location: &str) -> Result<u64, ErrorClass> {
        match self {
            Worker::Rust(t) => t.get_size(location).map_err(|e| e.class),
            Worker::Adapter { adapter, .. } => adapter.get_size(location).map_err(|e| class_of(&e)),
        }
    }

    pub(super) fn delete(&self, location: &str) -> Result<(), ErrorClass> {
        match self {
            Worker::Rust(t) => t.delete(location).map_err(|e| e.class),
            Worker::Adapter { adapter, .. } => adapter.delete(location).map_err(|e| class_of(&e)),
        }
    }

    /// Closes a read left open (the worker's next call is starting).
    pub(super) fn release(&self) {
        if let Worker::Adapter { adapter, .. } = self {
            let _ = adapter.release();
        }
    }
}
