//! [`Domain`]: the volume service as the API layer sees it — the world, the store, the
//! volume files and the [`Hooks`] — with one async function per state change that
//! needs more than one transaction (a write and then a job, or a write and then the
//! attach hook). Everything else is a function over a [`Tx`] run by [`Domain::write`].

use std::sync::Arc;

use uuid::Uuid;

use super::attach::{self, Changed, NewAttachment};
use super::files::VolumeFiles;
use super::hooks::{Hooks, Job};
use super::jobs;
use super::model::{Volume, VolumeType};
use super::ops::{self, Caller, CreateVolume};
use super::store::{State, Store, Tx};
use crate::config::World;
use crate::error::ApiError;

/// Shared handles to the domain's parts; cheap to clone.
#[derive(Clone)]
pub struct Domain {
    pub world: Arc<World>,
    pub store: Store,
    pub files: VolumeFiles,
    pub hooks: Arc<dyn Hooks>,
}

impl std::fmt::Debug for Domain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Domain").finish_non_exhaustive()
    }
}

impl Domain {
    /// Runs domain logic in one durable transaction (see [`Store::write`]).
    pub async fn write<R, F>(&self, f: F) -> Result<R, ApiError>
    where
        F: FnOnce(&mut Tx<'_>) -> Result<R, ApiError> + Send + 'static,
        R: Send + 'static,
    {
        self.store.write(f).await
    }

    /// Runs `f` on a consistent snapshot of the committed state, without waiting for
    /// writers.
    pub fn read<R>(&self, f: impl FnOnce(&State) -> R) -> R {
        self.store.read(f)
    }

    /// Read-only domain logic written against [`Tx`].
    pub fn view<R>(&self, f: impl FnOnce(&Tx<'_>) -> R) -> R {
        self.store.view(f)
    }

    /// Writes the world's volume types once per data dir (later API changes persist).
    pub fn seed(&self) -> Result<(), ApiError> {
        if self.store.meta("seeded")?.is_some() {
            return Ok(());
        }
        let seeds = self.world.volume_types.clone();
        self.store.write_blocking(move |tx| {
            for t in seeds {
                if tx.types().any(|x| x.name == t.name) {
                    continue;
                }
                tx.put_type(VolumeType {
                    id: t.id,
                    name: t.name,
                    description: t.description,
                    is_public: t.is_public,
                    extra_specs: t.extra_specs,
                    access: Default::default(),
                    qos_specs_id: None,
                });
            }
            super::group_types::seed(tx);
            Ok(())
        })?;
        self.store.set_meta("seeded", "1")
    }

    /// Forgets every volume, file and override, then seeds the world's types again.
    pub fn wipe(&self) -> Result<(), ApiError> {
        self.store.wipe()?;
        let files = self
            .files
            .list()
            .map_err(|e| ApiError::Internal(format!("list volume files: {e}")))?;
        for id in files {
            self.files
                .remove(id)
                .map_err(|e| ApiError::Internal(format!("remove volume file: {e}")))?;
        }
        let snapshots = self
            .files
            .list_snapshots()
            .map_err(|e| ApiError::Internal(format!("list snapshot files: {e}")))?;
        for id in snapshots {
            self.files
                .remove_snapshot(id)
                .map_err(|e| ApiError::Internal(format!("remove snapshot file: {e}")))?;
        }
        self.seed()
    }

    /// `POST /volumes`: the volume in `creating`, and its create job started.
    pub async fn create_volume(
        &self,
        caller: Caller,
        req: CreateVolume,
    ) -> Result<Volume, ApiError> {
        let world = self.world.clone();
        let v = self
            .write(move |tx| ops::create(tx, &world, &caller, req))
            .await?;
        jobs::spawn(self, v.id, Job::Create);
        Ok(v)
    }

    /// `DELETE /volumes/{id}` and `os-force_delete`: `deleting`, and the job started;
    /// with `cascade`, its snapshots' delete jobs too.
    pub async fn delete_volume(
        &self,
        caller: Caller,
        id: Uuid,
        force: bool,
        cascade: bool,
    ) -> Result<(), ApiError> {
        let (_, snapshots) = self
            .write(move |tx| ops::begin_delete_cascade(tx, &caller, id, force, cascade))
            .await?;
        for snapshot_id in snapshots {
            super::snapshot_jobs::spawn_delete(self, id, snapshot_id);
        }
        jobs::spawn(self, id, Job::Delete);
        Ok(())
    }

    /// `POST /snapshots`: the snapshot in `creating`, and its copy job started.
    pub async fn create_snapshot(
        &self,
        caller: Caller,
        req: super::snapshots::CreateSnapshot,
    ) -> Result<super::snapshots::Snapshot, ApiError> {
        let world = self.world.clone();
        let s = self
            .write(move |tx| super::snapshots::create(tx, &world, &caller, req))
            .await?;
        super::snapshot_jobs::spawn_create(self, &s);
        Ok(s)
    }

    /// `DELETE /snapshots/{id}` and `os-force_delete`: `deleting`, and the job started.
    pub async fn delete_snapshot(
        &self,
        caller: Caller,
        raw: String,
        force: bool,
    ) -> Result<(), ApiError> {
        let s = self
            .write(move |tx| super::snapshots::begin_delete(tx, &caller, &raw, force))
            .await?;
        super::snapshot_jobs::spawn_delete(self, s.volume_id, s.id);
        Ok(())
    }

    /// `POST /groups/{id}/action` `delete`: the group gone, its volumes deleting.
    pub async fn delete_group(
        &self,
        caller: Caller,
        raw: String,
        delete_volumes: bool,
    ) -> Result<(), ApiError> {
        let vols = self
            .write(move |tx| super::groups::delete(tx, &caller, &raw, delete_volumes))
            .await?;
        for id in vols {
            jobs::spawn(self, id, Job::Delete);
        }
        Ok(())
    }

    /// `os-extend`: `extending`, and the job started.
    pub async fn extend_volume(
        &self,
        caller: Caller,
        id: Uuid,
        new_size_gb: u64,
        attached_ok: bool,
    ) -> Result<(), ApiError> {
        let world = self.world.clone();
        self.write(move |tx| ops::begin_extend(tx, &world, &caller, id, new_size_gb, attached_ok))
            .await?;
        jobs::spawn(self, id, Job::Extend { new_size_gb });
        Ok(())
    }

    /// `POST /attachments`; the attach hook runs when the answer hands out the file.
    pub async fn create_attachment(
        &self,
        caller: Caller,
        new: NewAttachment,
    ) -> Result<Changed, ApiError> {
        let volume_id = new.volume_id;
        let changed = self
            .write(move |tx| attach::create(tx, &caller, new))
            .await?;
        if changed.stored.connector.is_some() {
            self.before_attach(volume_id).await?;
        }
        Ok(changed)
    }

    /// `PUT /attachments/{id}` with a connector; then the attach hook.
    pub async fn update_attachment(
        &self,
        caller: Caller,
        id: Uuid,
        connector: serde_json::Value,
    ) -> Result<Changed, ApiError> {
        let changed = self
            .write(move |tx| attach::update(tx, &caller, id, connector))
            .await?;
        self.before_attach(changed.stored.volume_id).await?;
        Ok(changed)
    }

    /// Legacy `os-initialize_connection`: the access mode, after the attach hook.
    pub async fn initialize_connection(
        &self,
        caller: &Caller,
        id: Uuid,
    ) -> Result<String, ApiError> {
        let mode = self.view(|tx| attach::initialize_connection(tx, caller, id))?;
        self.before_attach(id).await?;
        Ok(mode)
    }

    /// Runs [`Hooks::before_attach`] on a blocking thread, outside the store's lock.
    async fn before_attach(&self, volume_id: Uuid) -> Result<(), ApiError> {
        let hooks = self.hooks.clone();
        let path = self.files.path(volume_id);
        tokio::task::spawn_blocking(move || hooks.before_attach(volume_id, &path))
            .await
            .map_err(|e| ApiError::Internal(format!("attach hook: {e}")))
    }
}
