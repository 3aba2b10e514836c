//! Where the suite runs: an embedded emulator (a fresh one per case, on a free port over a
//! temporary directory) or a real cloud named by a `glance-api.conf`. Builds the target,
//! the inspector and the model's starting state, and cleans up after each case.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::glance_conf::GlanceStores;
use anyhow::{anyhow, Context, Result};
use cinderbox_emulator::config::World;
use cinderbox_emulator::testing::Emulator;

use crate::faults::FaultControl;
use crate::inspector::{Credentials, Inspector};
use crate::model::{Capabilities, Model, StoreModel};
use crate::profile::DriverProfile;
use crate::target::Target;

/// Stores of the generated configuration: (name, volume type). The last one's type does
/// not exist in the emulator, so that store must come up disabled.
pub const EMULATOR_STORES: [(&str, &str); 4] = [
    ("fast", "glance-fast"),
    ("slow", "glance-slow"),
    ("old", "glance-old"),
    ("broken", "glance-missing"),
];

/// The default world's NFS backend, and the extra spec that puts a type on it.
const NFS_BACKEND: &str = "nfs-1";
const NFS_BACKEND_SPEC: &str = "volume_backend_name";

/// Types legacy volumes are made with on the emulator (`None` = Cinder's default type).
const EMULATOR_LEGACY_TYPES: [Option<&str>; 4] = [
    None,
    Some("glance-old"),
    Some("glance-fast"),
    Some("glance-new"),
];

/// Builds the driver under test; called once per configuration.
pub type TargetFactory = Box<dyn Fn() -> Box<dyn Target + Send> + Send>;

/// How to run against the embedded emulator.
#[derive(Clone, Debug)]
pub struct EmulatorOptions {
    /// Scenario file installed at the start of every case (planted bugs).
    pub scenario: Option<PathBuf>,
    /// Fault rules (control API JSON) installed at the start of every case.
    pub rules: Vec<serde_json::Value>,
    /// `cinder_state_transition_timeout` of the generated configuration.
    pub state_timeout_s: u64,
    /// The emulator's create/extend/delete delay.
    pub delay: Duration,
    /// Serve every volume type from the emulator's NFS backend (`nfs-1`), so the driver
    /// reads and writes over NFSv3 instead of by path.
    pub nfs: bool,
}

impl Default for EmulatorOptions {
    fn default() -> EmulatorOptions {
        EmulatorOptions {
            scenario: None,
            rules: Vec::new(),
            state_timeout_s: 5,
            delay: Duration::ZERO,
            nfs: false,
        }
    }
}

/// Which Cinder the suite runs against.
#[derive(Clone, Debug)]
pub enum Where {
    Emulator(EmulatorOptions),
    /// A real cloud: the `glance-api.conf` to test and admin credentials.
    Cloud {
        glance_config: PathBuf,
        admin: Credentials,
    },
}

/// Knobs that shape generation.
#[derive(Clone, Debug)]
pub struct Shape {
    pub max_image_bytes: u64,
    pub large: bool,
}

struct Hosted {
    emulator: Option<Emulator>,
    _dir: tempfile::TempDir,
}

/// One place to run cases.
pub struct Session {
    pub place: Where,
    pub target: Box<dyn Target + Send>,
    pub inspector: Inspector,
    pub faults: Option<FaultControl>,
    /// The model at the start of every case.
    pub template: Model,
    /// Volumes that existed before the case started (never ours, never leaks).
    pub baseline: HashSet<String>,
    /// Volumes the target created through adds (cleaned up after each case and on exit).
    pub ours: Arc<Mutex<HashSet<String>>>,
    /// Image ids handed to the target (leaked volumes are recognised by `image-<id>`).
    pub image_ids: Arc<Mutex<HashSet<String>>>,
    pub conf_text: String,
    /// Scenario rules installed for this case.
    pub scenario_rules: Vec<String>,
    /// The driver's documented differences (also in every case's starting model).
    pub profile: DriverProfile,
    /// Whether cases may wrap steps in transient faults (when the emulator can inject them).
    transient_faults: bool,
    factory: TargetFactory,
    shape: Shape,
    hosted: Option<Hosted>,
    admin: Option<Credentials>,
}

/// What an interrupted run needs to remove everything it created on a real cloud.
#[derive(Clone)]
pub struct CleanupHandle {
    admin: Credentials,
    ours: Arc<Mutex<HashSet<String>>>,
    created: Arc<Mutex<HashSet<String>>>,
    image_ids: Arc<Mutex<HashSet<String>>>,
}

/// A copy of a shared set; a poisoned lock still holds a whole set (inserts are atomic).
fn snapshot(set: &Mutex<HashSet<String>>) -> HashSet<String> {
    set.lock().unwrap_or_else(|p| p.into_inner()).clone()
}

/// The volumes this run owns: those it made (`ours`, `created`) and every listed volume
/// named `image-<id>` after an image id it handed to the driver. Lists only when there
/// can be something to find.
fn owned_volumes(
    ours: &Mutex<HashSet<String>>,
    created: &Mutex<HashSet<String>>,
    image_ids: &Mutex<HashSet<String>>,
    list: impl FnOnce() -> Result<Vec<crate::inspector::VolumeInfo>>,
) -> Result<HashSet<String>> {
    let mut owned = snapshot(ours);
    owned.extend(snapshot(created));
    let ids = snapshot(image_ids);
    if ids.is_empty() && owned.is_empty() {
        return Ok(owned);
    }
    for v in list()? {
        if v.name
            .strip_prefix("image-")
            .is_some_and(|id| ids.contains(id))
        {
            owned.insert(v.id);
        }
    }
    Ok(owned)
}

impl CleanupHandle {
    /// Deletes every volume of ours (and its attachments); returns how many it removed.
    pub fn run(&self) -> Result<usize> {
        let inspector = Inspector::new(self.admin.clone(), self.admin.clone())?;
        let doomed = owned_volumes(&self.ours, &self.created, &self.image_ids, || {
            inspector.volumes()
        })?;
        for id in &doomed {
            inspector.purge(id)?;
        }
        Ok(doomed.len())
    }
}

impl Session {
    /// Prepares the place for our driver (no documented differences).
    pub fn new(place: Where, shape: Shape, factory: TargetFactory) -> Result<Session> {
        Session::with_profile(place, shape, factory, DriverProfile::RUST)
    }

    /// Prepares the place for a driver with `profile`; readies the first case.
    pub fn with_profile(
        place: Where,
        shape: Shape,
        factory: TargetFactory,
        profile: DriverProfile,
    ) -> Result<Session> {
        let target = factory();
        let placeholder = Credentials {
            auth_url: "http://127.0.0.1:9/v3".into(),
            username: String::new(),
            password: String::new(),
            project_name: String::new(),
            user_domain_name: "Default".into(),
            project_domain_name: "Default".into(),
            region_name: None,
            interface: "public".into(),
            insecure: false,
        };
        let mut session = Session {
            place,
            target,
            inspector: Inspector::new(placeholder.clone(), placeholder)?,
            faults: None,
            template: Model {
                stores: Vec::new(),
                default_store: String::new(),
                default_type: String::new(),
                legacy_types: Vec::new(),
                images: BTreeMap::new(),
                next_key: 0,
                caps: Capabilities {
                    faults: false,
                    restart: false,
                    legacy_bytes: false,
                    max_image_bytes: shape.max_image_bytes,
                    large: shape.large,
                },
            },
            baseline: HashSet::new(),
            ours: Arc::new(Mutex::new(HashSet::new())),
            image_ids: Arc::new(Mutex::new(HashSet::new())),
            conf_text: String::new(),
            scenario_rules: Vec::new(),
            profile,
            transient_faults: true,
            factory,
            shape,
            hosted: None,
            admin: None,
        };
        session.begin_case()?;
        Ok(session)
    }

    /// How long a delete that does not wait (`delete_returns_before_gone`) may take to
    /// finish in Cinder: 60 s on a real cloud; on the emulator, whose deletes take its
    /// configured delay, three state-transition timeouts (at least 6 s).
    pub fn delete_settle(&self) -> Duration {
        match &self.place {
            Where::Emulator(o) => Duration::from_secs((3 * o.state_timeout_s).max(6)),
            Where::Cloud { .. } => Duration::from_secs(60),
        }
    }

    /// No step of later cases is wrapped in a transient fault (a short budget that checks
    /// only the fault-free behaviour).
    pub fn disable_transient_faults(&mut self) {
        self.transient_faults = false;
        self.template.caps.faults = false;
    }

    /// For a real cloud: what a Ctrl-C handler needs to clean up behind the run.
    pub fn cleanup_handle(&self) -> Option<CleanupHandle> {
        Some(CleanupHandle {
            admin: self.admin.clone()?,
            ours: self.ours.clone(),
            created: self.inspector.created.clone(),
            image_ids: self.image_ids.clone(),
        })
    }

    pub fn is_emulator(&self) -> bool {
        matches!(self.place, Where::Emulator(_))
    }

    /// Readies a clean place for one case: a fresh emulator, or a cloud with nothing of
    /// ours left. Rebuilds the target and the starting model.
    pub fn begin_case(&mut self) -> Result<()> {
        match self.place.clone() {
            Where::Emulator(options) => self.begin_emulator(&options),
            Where::Cloud {
                glance_config,
                admin,
            } => self.begin_cloud(&glance_config, admin),
        }
    }

    fn begin_emulator(&mut self, options: &EmulatorOptions) -> Result<()> {
        self.hosted = None;
        let dir = tempfile::tempdir()?;
        let mut world = World::default_world();
        world.delays.create = options.delay;
        world.delays.extend = options.delay;
        world.delays.delete = options.delay;
        for t in &mut world.volume_types {
            t.delays = None;
            if options.nfs {
                t.extra_specs
                    .entry(NFS_BACKEND_SPEC.into())
                    .or_insert_with(|| NFS_BACKEND.into());
            }
        }
        let emulator = Emulator::start_with(dir.path(), world, "127.0.0.1:0".parse()?)?;
        let identity = emulator.identity_url();
        self.conf_text = emulator_glance_conf(&identity, options.state_timeout_s);
        let user = |name: &str, password: &str, project: &str| Credentials {
            auth_url: identity.clone(),
            username: name.into(),
            password: password.into(),
            project_name: project.into(),
            user_domain_name: "Default".into(),
            project_domain_name: "Default".into(),
            region_name: None,
            interface: "public".into(),
            insecure: false,
        };
        let created = self.inspector.created.clone();
        self.inspector = Inspector::new(
            user("admin", "admin", "admin"),
            user("glance", "admin", "service"),
        )?;
        self.inspector.created = created;
        let faults = FaultControl::new(&emulator.base_url, self.inspector.admin.token()?)?;
        let has_faults = faults.available();
        self.faults = has_faults.then_some(faults);
        self.install_rules(options)?;
        self.hosted = Some(Hosted {
            emulator: Some(emulator),
            _dir: dir,
        });
        self.target = (self.factory)();
        self.target
            .configure("conformance-glance-api.conf", &self.conf_text)
            .map_err(|e| anyhow!("configuring the target: {e}"))?;
        let legacy_bytes = self.inspector.attachments()?.is_some();
        self.template = self.starting_model(
            EMULATOR_STORES
                .iter()
                .map(|(n, t)| (n.to_string(), Some(t.to_string()))),
            "fast",
            EMULATOR_LEGACY_TYPES
                .iter()
                .map(|t| t.map(str::to_string))
                .collect(),
            Capabilities {
                faults: has_faults
                    && self.transient_faults
                    && options.scenario.is_none()
                    && options.rules.is_empty(),
                restart: true,
                legacy_bytes,
                max_image_bytes: self.shape.max_image_bytes,
                large: self.shape.large,
            },
        )?;
        self.baseline = HashSet::new();
        Ok(())
    }

    fn begin_cloud(&mut self, glance_config: &Path, admin: Credentials) -> Result<()> {
        let text = std::fs::read_to_string(glance_config)
            .with_context(|| format!("read {}", glance_config.display()))?;
        let file = glance_config.display().to_string();
        let conf = GlanceStores::parse(&file, &text)?;
        let glance = match &conf.service {
            Some(s) => Credentials {
                auth_url: s.auth_url.clone(),
                username: s.user_name.clone(),
                password: s.password.clone(),
                project_name: s.project_name.clone(),
                user_domain_name: s.user_domain_name.clone(),
                project_domain_name: s.project_domain_name.clone(),
                region_name: s.region_name.clone().or(admin.region_name.clone()),
                interface: admin.interface.clone(),
                insecure: s.insecure,
            },
            None => admin.clone(),
        };
        self.cleanup()?;
        let created = self.inspector.created.clone();
        self.admin = Some(admin.clone());
        self.inspector = Inspector::new(admin, glance)?;
        self.inspector.created = created;
        self.conf_text = text;
        self.target = (self.factory)();
        self.target
            .configure(&file, &self.conf_text)
            .map_err(|e| anyhow!("configuring the target: {e}"))?;
        let stores = conf.stores.clone();
        let mut legacy: Vec<Option<String>> = vec![None];
        for (_, t) in &stores {
            if let Some(t) = t {
                if self.inspector.type_exists(t)? && !legacy.contains(&Some(t.clone())) {
                    legacy.push(Some(t.clone()));
                }
            }
        }
        self.template = self.starting_model(
            stores.into_iter(),
            &conf.default,
            legacy,
            Capabilities {
                faults: false,
                restart: false,
                legacy_bytes: false,
                max_image_bytes: self.shape.max_image_bytes,
                large: self.shape.large,
            },
        )?;
        self.baseline = self
            .inspector
            .volumes()?
            .into_iter()
            .map(|v| v.id)
            .collect();
        Ok(())
    }

    /// The model's view of the stores, asking Cinder (not the target) which types exist.
    fn starting_model(
        &self,
        stores: impl Iterator<Item = (String, Option<String>)>,
        default_store: &str,
        legacy_types: Vec<Option<String>>,
        caps: Capabilities,
    ) -> Result<Model> {
        let default_type = self.inspector.default_type()?;
        let mut models = Vec::new();
        for (name, volume_type) in stores {
            let volume_type = volume_type.unwrap_or_else(|| default_type.clone());
            let enabled = self.inspector.type_exists(&volume_type)?;
            models.push(StoreModel {
                name,
                volume_type,
                enabled,
            });
        }
        Ok(Model {
            stores: models,
            default_store: default_store.to_string(),
            default_type,
            legacy_types,
            images: BTreeMap::new(),
            next_key: 0,
            caps,
        })
    }

    /// Stops and restarts the embedded emulator on the same address and data.
    pub fn restart(&mut self) -> Result<()> {
        let hosted = self
            .hosted
            .as_mut()
            .ok_or_else(|| anyhow!("restart needs the embedded emulator"))?;
        let emulator = hosted
            .emulator
            .take()
            .ok_or_else(|| anyhow!("emulator is not running"))?;
        let emulator = emulator.restart()?;
        self.inspector.forget();
        self.faults = Some(FaultControl::new(
            &emulator.base_url,
            self.inspector.admin.token()?,
        )?)
        .filter(FaultControl::available);
        hosted.emulator = Some(emulator);
        // Rules added through the control API do not survive a restart: put them back.
        if let Where::Emulator(options) = self.place.clone() {
            self.install_rules(&options)?;
        }
        Ok(())
    }

    /// Installs the scenario and the rules of `options` through the control API.
    fn install_rules(&mut self, options: &EmulatorOptions) -> Result<()> {
        self.scenario_rules.clear();
        if options.scenario.is_none() && options.rules.is_empty() {
            return Ok(());
        }
        let faults = self.faults.as_ref().ok_or_else(|| {
            anyhow!("planted faults need the emulator's fault engine (/_cinderbox/faults), which this build lacks")
        })?;
        if let Some(scenario) = &options.scenario {
            self.scenario_rules = faults.add_scenario(scenario)?;
        }
        for rule in &options.rules {
            self.scenario_rules.push(faults.add(rule)?);
        }
        Ok(())
    }

    /// Removes everything this run created on a real cloud (volumes of ours, volumes named
    /// after our image ids, legacy volumes); a no-op for the embedded emulator, which is
    /// thrown away whole.
    pub fn cleanup(&mut self) -> Result<()> {
        if self.is_emulator() {
            return Ok(());
        }
        let doomed = owned_volumes(&self.ours, &self.inspector.created, &self.image_ids, || {
            Ok(self.inspector.volumes().unwrap_or_default())
        })?;
        let mut first_error = None;
        for id in &doomed {
            if let Err(e) = self.inspector.purge(id) {
                first_error.get_or_insert(e);
            }
        }
        self.ours.lock().unwrap_or_else(|p| p.into_inner()).clear();
        match first_error {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Whether a listed volume is in scope for the leak check: on the emulator every
    /// volume; on a real cloud only what carries our image ids or was made by us.
    pub fn in_scope(&self, id: &str, name: &str) -> bool {
        if self.baseline.contains(id) {
            return false;
        }
        if self.is_emulator() {
            return true;
        }
        let ids = self.image_ids.lock().unwrap_or_else(|p| p.into_inner());
        name.strip_prefix("image-").is_some_and(|i| ids.contains(i))
            || self
                .ours
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .contains(id)
            || self
                .inspector
                .created
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .contains(id)
    }
}

/// The generated `glance-api.conf` for the embedded emulator.
pub fn emulator_glance_conf(identity_url: &str, state_timeout_s: u64) -> String {
    let names: Vec<String> = EMULATOR_STORES
        .iter()
        .map(|(n, _)| format!("{n}:cinder"))
        .collect();
    let mut text = format!(
        "# Generated by cinderbox-conformance for its embedded emulator.\n\
         [DEFAULT]\nenabled_backends = {}\n\n[glance_store]\ndefault_backend = fast\n",
        names.join(",")
    );
    for (name, volume_type) in EMULATOR_STORES {
        text.push_str(&format!(
            "\n[{name}]\ncinder_volume_type = {volume_type}\ndescription = conformance store {name}\n\
             cinder_catalog_info = volumev3::publicURL\ncinder_store_auth_address = {identity_url}\n\
             cinder_store_user_name = glance\ncinder_store_password = admin\n\
             cinder_store_project_name = service\ncinder_store_user_domain_name = Default\n\
             cinder_store_project_domain_name = Default\n\
             cinder_state_transition_timeout = {state_timeout_s}\ncinder_http_timeout = 10\n\
             cinder_http_retries = 2\n"
        ));
    }
    text
}
