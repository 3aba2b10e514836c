use super::*;

const CREDS: &str = "cinder_store_auth_address = http://127.0.0.1:8776/identity/v3
cinder_store_user_name = glance
cinder_store_password = admin
cinder_store_project_name = service
";

/// A one-line summary of everything the tests care about.
fn summary(config: &GlanceConfig) -> String {
    let mut out = format!("{:?} default={}", config.mode, config.default_backend);
    for b in &config.backends {
        out.push_str(&format!(" | {}:{}", b.name, b.kind));
        if let Some(c) = &b.cinder {
            out.push_str(&format!(
                " type={} creds={}",
                c.volume_type.as_deref().unwrap_or("-"),
                match &c.credentials {
                    None => "none",
                    Some(Credentials::Password { .. }) => "password",
                    Some(Credentials::ApplicationCredential { .. }) => "appcred",
                }
            ));
        }
    }
    for w in &config.warnings {
        out.push_str(&format!(" | warning {w}"));
    }
    out
}

fn check(input: &str, expected: Result<&str, &str>) {
    let got = GlanceConfig::parse("g.conf", input);
    match (got, expected) {
        (Ok(config), Ok(expected)) => assert_eq!(summary(&config), expected, "input:\n{input}"),
        (Err(err), Err(expected)) => assert_eq!(err.to_string(), expected, "input:\n{input}"),
        (got, expected) => panic!("input:\n{input}\ngot {got:?}\nexpected {expected:?}"),
    }
}

fn multi(extra_glance_store: &str, stores: &[(&str, &str)]) -> String {
    let names: Vec<String> = stores.iter().map(|(n, _)| format!("{n}:cinder")).collect();
    let mut text = format!(
        "[DEFAULT]\nenabled_backends = {}\n[glance_store]\n{extra_glance_store}\n",
        names.join(",")
    );
    for (name, body) in stores {
        text.push_str(&format!("[{name}]\n{body}\n{CREDS}"));
    }
    text
}

#[test]
fn fixtures_parse() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/glance-api");
    let cases = [
        ("example1-fast-slow.conf", "Multi default=fast | fast:cinder type=glance-fast creds=password | slow:cinder type=glance-slow creds=password"),
        ("example2-before.conf", "Single default=cinder | cinder:cinder type=glance-old creds=password | file:file | http:http"),
        ("example2-after.conf", "Multi default=new | old:cinder type=glance-old creds=password | new:cinder type=glance-new creds=password"),
        ("misconfigured-missing-type.conf", "Multi default=fast | fast:cinder type=glance-fast creds=password | broken:cinder type=glance-missing creds=password"),
    ];
    for (file, expected) in cases {
        let config = GlanceConfig::load(&dir.join(file)).expect(file);
        assert_eq!(summary(&config), expected, "{file}");
    }
}

#[test]
fn fixture_example1_values() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/glance-api");
    let config = GlanceConfig::load(&dir.join("example1-fast-slow.conf")).expect("loads");
    let fast = config
        .backend("fast")
        .and_then(|b| b.cinder.clone())
        .expect("fast");
    assert_eq!(
        config
            .backend("fast")
            .and_then(|b| b.description.clone())
            .as_deref(),
        Some("Really fast and expensive storage")
    );
    assert_eq!(fast.catalog_info.service_type, "volumev3");
    assert_eq!(fast.catalog_info.interface, Interface::Public);
    assert_eq!(fast.state_transition_timeout_s, 300);
    assert_eq!(fast.http_retries, 3);
    assert_eq!(fast.attachment_retry_attempts, 5);
    assert!(!fast.do_extend_attached);
    assert_eq!(fast.nfs_connector, crate::config::NfsMode::Userspace);
    match fast.credentials {
        Some(Credentials::Password {
            auth_url,
            user_name,
            password,
            project_name,
            user_domain_name,
            project_domain_name,
        }) => {
            assert_eq!(auth_url.as_str(), "http://127.0.0.1:8776/identity/v3");
            assert_eq!(
                (user_name.as_str(), password.expose(), project_name.as_str()),
                ("glance", "admin", "service")
            );
            assert_eq!(
                (user_domain_name.as_str(), project_domain_name.as_str()),
                ("Default", "Default")
            );
        }
        other => panic!("expected password credentials, got {other:?}"),
    }
}

#[test]
fn valid_configs() {
    let cases: Vec<(String, &str)> = vec![
        // a single cinder store in multi-store mode may rely on Cinder's default type
        (multi("default_backend = a", &[("a", "")]), "Multi default=a | a:cinder type=- creds=password"),
        // non-cinder backends are listed but not served
        (
            "[DEFAULT]\nenabled_backends = a:cinder, f:file\n[glance_store]\ndefault_backend = f\n[a]\ncinder_volume_type = t\n".into(),
            "Multi default=f | a:cinder type=t creds=none | f:file",
        ),
        // [backend_defaults] supplies credentials and the type of a store
        (
            format!("[DEFAULT]\nenabled_backends = a:cinder\n[glance_store]\ndefault_backend = a\n[backend_defaults]\ncinder_volume_type = shared\nfilesystem_store_datadir = /x\n{CREDS}"),
            "Multi default=a | a:cinder type=shared creds=password",
        ),
        // application credentials win when both id and secret are set
        (
            "[DEFAULT]\nenabled_backends = a:cinder\n[glance_store]\ndefault_backend = a\n[a]\ncinder_store_auth_address = http://k/v3\ncinder_store_application_credential_id = id\ncinder_store_application_credential_secret = s\n".into(),
            "Multi default=a | a:cinder type=- creds=appcred",
        ),
        // unknown keys warn, never fail
        (
            multi("default_backend = a", &[("a", "cinder_volume_type = t\ncinder_volume_typo = x")]),
            "Multi default=a | a:cinder type=t creds=password | warning g.conf:7: [a] cinder_volume_typo: unknown option, ignored",
        ),
        (
            multi("default_backend = a", &[("a", "cinder_volume_type = t # note")]),
            "Multi default=a | a:cinder type=t # note creds=password | warning g.conf:6: [a] cinder_volume_type: oslo.config keeps inline comments as part of the value; move the comment to its own line",
        ),
        // legacy single store without enabled_backends
        (
            "[glance_store]\nstores = cinder\ndefault_store = cinder\ncinder_volume_type = old\ncinder_bogus = 1\n".into(),
            "Single default=cinder | cinder:cinder type=old creds=none | warning g.conf:5: [glance_store] cinder_bogus: unknown option, ignored",
        ),
        ("[DEFAULT]\n".into(), "Single default=file | file:file | http:http"),
        // the deprecated name os_region_name is still read
        (
            multi("default_backend = a", &[("a", "os_region_name = R2")]),
            "Multi default=a | a:cinder type=- creds=password",
        ),
    ];
    for (input, expected) in cases {
        check(&input, Ok(expected));
    }
}

#[test]
fn config_errors() {
    let cases: Vec<(String, &str)> = vec![
        (multi("", &[("a", "")]), "g.conf: [glance_store] default_backend: not set; glance-api refuses to start without a default store when enabled_backends is set"),
        (multi("default_backend = zz", &[("a", "")]), "g.conf:4: [glance_store] default_backend: 'zz' is not one of enabled_backends"),
        (multi("default_backend = os_glance_x", &[("os_glance_x", "")]), "g.conf:2: [DEFAULT] enabled_backends: store id 'os_glance_x' uses the reserved prefix 'os_glance_'; rename the store"),
        ("[DEFAULT]\nenabled_backends = a\n".into(), "g.conf:2: [DEFAULT] enabled_backends: 'a' is not 'store_id:store_type'"),
        ("[DEFAULT]\nenabled_backends = a:cinder,a:file\n".into(), "g.conf:2: [DEFAULT] enabled_backends: store id 'a' is listed twice"),
        (multi("default_backend = a", &[("a", "cinder_http_retries = three")]), "g.conf:6: [a] cinder_http_retries: 'three' is not an integer"),
        (multi("default_backend = a", &[("a", "cinder_attachment_retry_attempts = 0")]), "g.conf:6: [a] cinder_attachment_retry_attempts: 0 is below the minimum 1"),
        (multi("default_backend = a", &[("a", "cinder_state_transition_timeout = -1")]), "g.conf:6: [a] cinder_state_transition_timeout: -1 is below the minimum 0"),
        (multi("default_backend = a", &[("a", "cinder_api_insecure = maybe")]), "g.conf:6: [a] cinder_api_insecure: 'maybe' is not a boolean (use true/false, yes/no, on/off, 1/0)"),
        (multi("default_backend = a", &[("a", "weight = heavy")]), "g.conf:6: [a] weight: 'heavy' is not an integer"),
        (multi("default_backend = a", &[("a", "cinder_catalog_info = volumev3")]), "g.conf:6: [a] cinder_catalog_info: 'volumev3' is not 'service_type:service_name:interface' (e.g. volumev3::publicURL)"),
        (multi("default_backend = a", &[("a", "cinder_catalog_info = volumev3::everywhere")]), "g.conf:6: [a] cinder_catalog_info: interface 'everywhere' is not one of publicURL, internalURL, adminURL"),
        (multi("default_backend = a", &[("a", "cinder_volume_type = t"), ("b", "")]), "g.conf: [b] cinder_volume_type: not set, but 2 cinder stores are enabled and each must map to its own volume type"),
        (multi("default_backend = a", &[("a", "cinder_volume_type = t"), ("b", "cinder_volume_type = t")]), "g.conf:12: [b] cinder_volume_type: volume type 't' is also used by store 'a'; each cinder store needs its own type"),
        ("[DEFAULT]\nenabled_backends = a:cinder\n[glance_store]\ndefault_backend = a\n[a]\ncinder_store_auth_address = not a url\ncinder_store_user_name = u\ncinder_store_password = p\ncinder_store_project_name = p\n".into(), "g.conf:6: [a] cinder_store_auth_address: 'not a url' is not a URL: relative URL without a base"),
        ("[DEFAULT]\nenabled_backends = a:cinder\n[glance_store]\ndefault_backend = a\n[a]\ncinder_store_auth_address = http://k/v3\ncinder_store_user_name = u\ncinder_store_project_name = p\n".into(), "g.conf: [a] cinder_store_password: incomplete service credentials: user name, password and project name must all be set"),
        ("[DEFAULT]\nenabled_backends = a:cinder\n[glance_store]\ndefault_backend = a\n[a]\ncinder_store_user_name = u\n".into(), "g.conf: [a] cinder_store_auth_address: service credentials are set but the Keystone address is not"),
        ("[glance_store]\nstores = file\ndefault_store = cinder\n".into(), "g.conf:3: [glance_store] default_store: 'cinder' is not one of stores (file)"),
        ("[glance_store]\nstores = cinder\ndefault_store = cinder\ncinder_do_extend_attached = sometimes\n".into(), "g.conf:4: [glance_store] cinder_do_extend_attached: 'sometimes' is not a boolean (use true/false, yes/no, on/off, 1/0)"),
        ("[glance_store]\nstores = cinder\ndefault_store = cinder\ncinder_nfs_connector = kernel\n".into(), "g.conf:4: [glance_store] cinder_nfs_connector: use 'userspace' (no root, no mount) or 'mount' (the kernel NFS client, needs root)"),
        ("junk\n".into(), "g.conf:1: option outside of any section; put it under [DEFAULT] or a store section"),
    ];
    for (input, expected) in cases {
        check(&input, Err(expected));
    }
}

#[test]
fn secrets_never_debug_printed() {
    let config =
        GlanceConfig::parse("g.conf", &multi("default_backend = a", &[("a", "")])).expect("parses");
    let debug = format!("{config:?}");
    assert!(!debug.contains("admin"), "{debug}");
    assert!(debug.contains("Secret(***)"));
}

#[test]
fn booleans() {
    let cases = [
        ("true", Some(true)),
        ("Yes", Some(true)),
        ("ON", Some(true)),
        ("1", Some(true)),
        ("False", Some(false)),
        ("no", Some(false)),
        ("off", Some(false)),
        ("0", Some(false)),
        ("2", None),
        ("", None),
    ];
    for (input, expected) in cases {
        assert_eq!(parse_bool(input), expected, "{input}");
    }
}

#[test]
fn catalog_info() {
    let cases = [
        (
            "volumev3::publicURL",
            Ok(("volumev3", None, Interface::Public)),
        ),
        (
            "volumev2:cinderv2:internalURL",
            Ok(("volumev2", Some("cinderv2"), Interface::Internal)),
        ),
        (
            "block-storage::admin",
            Ok(("block-storage", None, Interface::Admin)),
        ),
        (
            "::publicURL",
            Err("'::publicURL' has an empty service type"),
        ),
    ];
    for (input, expected) in cases {
        let got = CatalogInfo::parse(input);
        match (got, expected) {
            (Ok(c), Ok((t, n, i))) => {
                assert_eq!(
                    (
                        c.service_type.as_str(),
                        c.service_name.as_deref(),
                        c.interface
                    ),
                    (t, n, i)
                )
            }
            (Err(e), Err(m)) => assert_eq!(e, m),
            (got, expected) => panic!("{input}: got {got:?}, expected {expected:?}"),
        }
    }
}

#[test]
fn defaults_are_a_store_section_that_sets_nothing() {
    let parsed = GlanceConfig::parse(
        "t",
        "[glance_store]\nstores = cinder\ndefault_store = cinder\n",
    )
    .expect("parses");
    let defaults = CinderOptions::default();
    assert_eq!(parsed.backends[0].cinder.as_ref(), Some(&defaults));
    assert_eq!(
        (defaults.http_retries, defaults.attachment_retry_attempts),
        (3, 5)
    );
    assert_eq!(defaults.state_transition_timeout_s, 300);
}

#[test]
fn each_unknown_option_warns_once() {
    // `backend_defaults` as a store id is linted as a store and as the shared section
    let text = format!(
        "[DEFAULT]\nenabled_backends = backend_defaults:cinder\n[glance_store]\ndefault_backend = backend_defaults\n[backend_defaults]\n{CREDS}cinder_volume_typo = x\n"
    );
    let config = GlanceConfig::parse("g.conf", &text).expect("parses");
    let warnings: Vec<String> = config.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(
        warnings,
        vec!["g.conf:10: [backend_defaults] cinder_volume_typo: unknown option, ignored"]
    );
}
