//! The deployment files (`docker-compose.yml`, `deploy/Dockerfile`) checked against the binary
//! and against each other: a renamed setting, a moved port or a dropped library fails here, not
//! in someone's production.

use std::collections::BTreeMap;
use std::path::PathBuf;

use yaml_rust2::{Yaml, YamlLoader};

use crate::{portcullis, text};

pub(super) fn repo_file(name: &str) -> (PathBuf, String) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    (path, text)
}

fn compose() -> Yaml {
    let (path, text) = repo_file("docker-compose.yml");
    let mut docs = YamlLoader::load_from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not YAML: {e}", path.display()));
    assert_eq!(docs.len(), 1, "docker-compose.yml holds one document");
    docs.remove(0)
}

fn service<'a>(compose: &'a Yaml, name: &str) -> &'a Yaml {
    let s = &compose["services"][name];
    assert!(
        !s.is_badvalue(),
        "docker-compose.yml has no service `{name}`"
    );
    s
}

pub(super) fn scalar(y: &Yaml) -> Option<String> {
    match y {
        Yaml::String(s) | Yaml::Real(s) => Some(s.clone()),
        Yaml::Integer(i) => Some(i.to_string()),
        Yaml::Boolean(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A service's environment (mapping or `KEY=value` list form), as written (uninterpolated).
fn environment(service: &Yaml) -> BTreeMap<String, String> {
    match &service["environment"] {
        Yaml::Hash(h) => h
            .iter()
            .map(|(k, v)| {
                (
                    scalar(k).expect("variable name"),
                    scalar(v).unwrap_or_default(),
                )
            })
            .collect(),
        Yaml::Array(a) => a
            .iter()
            .filter_map(scalar)
            .map(|kv| match kv.split_once('=') {
                Some((k, v)) => (k.to_owned(), v.to_owned()),
                None => (kv, String::new()),
            })
            .collect(),
        _ => BTreeMap::new(),
    }
}

/// Every service's `PORTCULLIS__…` variables.
fn portcullis_variables(compose: &Yaml) -> BTreeMap<String, String> {
    let mut vars = BTreeMap::new();
    for (_, svc) in compose["services"].as_hash().expect("services") {
        for (k, v) in environment(svc) {
            if k.starts_with("PORTCULLIS__") {
                vars.insert(k, v);
            }
        }
    }
    vars
}

/// A valid value of the right shape for each variable the compose file interpolates.
fn placeholder(variable: &str) -> &'static str {
    match variable {
        "PORTCULLIS_MASTER_KEY" => "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
        "PORTCULLIS_BOOTSTRAP_TOKEN" => "pcat_compose-check-token-0123456789",
        "PORTCULLIS_PUBLIC_URL" => "https://id.example.com",
        "POSTGRES_PASSWORD" => "s3cret-password",
        "PORTCULLIS_OTLP_ENDPOINT" => "http://otel-collector:4317",
        other => panic!(
            "docker-compose.yml interpolates ${{{other}}}: give it a placeholder value in \
             deploy_files.rs so that the configuration check covers it"
        ),
    }
}

/// One `${NAME…}` interpolation.
#[derive(Debug)]
struct Interpolation {
    name: String,
    /// `:-` or `-` default.
    default: Option<String>,
    /// `:?` or `?`: compose refuses to start without the variable.
    required: bool,
}

/// Replaces each `${…}` the way compose does, given which variables are set.
fn interpolate(value: &str, mut set: impl FnMut(&Interpolation) -> Option<String>) -> String {
    let mut out = String::new();
    let mut rest = value;
    while let Some(i) = rest.find("${") {
        out.push_str(&rest[..i]);
        let end = rest[i..]
            .find('}')
            .unwrap_or_else(|| panic!("unclosed ${{ in {value}"))
            + i;
        let inner = &rest[i + 2..end];
        let split = inner.find([':', '-', '?']).unwrap_or(inner.len());
        let (name, modifier) = inner.split_at(split);
        let modifier = modifier.strip_prefix(':').unwrap_or(modifier);
        let it = Interpolation {
            name: name.to_owned(),
            default: modifier.strip_prefix('-').map(str::to_owned),
            required: modifier.starts_with('?'),
        };
        let replaced = set(&it).or_else(|| it.default.clone()).unwrap_or_else(|| {
            assert!(!it.required, "{} is required", it.name);
            String::new()
        });
        out.push_str(&replaced);
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

fn interpolations(value: &str) -> Vec<Interpolation> {
    let mut found = Vec::new();
    interpolate(value, |i| {
        found.push(Interpolation {
            name: i.name.clone(),
            default: i.default.clone(),
            required: i.required,
        });
        Some(String::new())
    });
    found
}

/// Runs `portcullis config check` with exactly these variables; panics with its output unless
/// it exits 0.
pub(super) fn config_check(vars: &BTreeMap<String, String>, case: &str) {
    let dir = tempfile::tempdir().expect("dir");
    let out = portcullis(dir.path())
        .args(["config", "check"])
        .envs(vars)
        .output()
        .expect("run");
    let (stdout, stderr) = text(&out);
    assert!(
        out.status.success(),
        "`portcullis config check` refuses the environment of docker-compose.yml ({case}): \
         exit {:?}\n{stderr}\nvariables: {:?}",
        out.status.code(),
        vars.keys().collect::<Vec<_>>()
    );
    assert!(stdout.contains("public_url"), "{stdout}");
}

/// The listen address the compose file gives Portcullis, and its port.
fn listen_port(compose: &Yaml) -> u16 {
    let env = environment(service(compose, "portcullis"));
    let listen = env
        .get("PORTCULLIS__LISTEN")
        .expect("the portcullis service sets PORTCULLIS__LISTEN (the image's default is 8080)");
    let addr: std::net::SocketAddr = listen
        .parse()
        .unwrap_or_else(|_| panic!("PORTCULLIS__LISTEN `{listen}` is not host:port"));
    assert!(
        addr.ip().is_unspecified(),
        "in a container Portcullis must listen on all interfaces, not `{listen}`"
    );
    addr.port()
}

/// The host and container ports of each published port (short and long syntax).
fn published_ports(svc: &Yaml) -> Vec<(Option<u16>, u16)> {
    let Some(ports) = svc["ports"].as_vec() else {
        return Vec::new();
    };
    ports
        .iter()
        .map(|p| {
            if let Some(target) = p["target"].as_i64() {
                let published = scalar(&p["published"]).and_then(|s| s.parse().ok());
                return (published, u16::try_from(target).expect("port"));
            }
            let spec = scalar(p).expect("a port");
            let spec = spec.split('/').next().unwrap_or_default();
            let parts: Vec<&str> = spec.rsplitn(3, ':').collect();
            let container = parts[0].parse().expect("container port");
            let host = parts.get(1).and_then(|h| h.parse().ok());
            (host, container)
        })
        .collect()
}

/// The `http://host:port/path` URL in a health check command.
fn health_url(command: &str) -> url::Url {
    let start = command
        .find("http://")
        .unwrap_or_else(|| panic!("no http:// URL in the health check `{command}`"));
    let end = command[start..]
        .find(|c: char| c.is_whitespace() || c == '"' || c == '\'')
        .map(|e| e + start)
        .unwrap_or(command.len());
    url::Url::parse(&command[start..end]).expect("health check URL")
}

fn healthcheck_command(svc: &Yaml) -> Option<String> {
    match &svc["healthcheck"]["test"] {
        Yaml::Array(a) => Some(a.iter().filter_map(scalar).collect::<Vec<_>>().join(" ")),
        y => scalar(y),
    }
}

/// The Dockerfile as instructions (continuation lines joined, comments dropped).
pub(super) fn dockerfile() -> Vec<(String, String)> {
    let (_, text) = repo_file("deploy/Dockerfile");
    let mut instructions = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('#') || (trimmed.is_empty() && current.is_empty()) {
            continue;
        }
        if let Some(cont) = trimmed.strip_suffix('\\') {
            current.push_str(cont);
            current.push(' ');
            continue;
        }
        current.push_str(trimmed);
        let (word, rest) = current.split_once(' ').unwrap_or((&current, ""));
        instructions.push((word.to_uppercase(), rest.trim().to_owned()));
        current.clear();
    }
    instructions
}

/// The value the image's runtime stage gives `name` with `ENV`.
pub(super) fn image_env(name: &str) -> Option<String> {
    let instructions = dockerfile();
    let prefix = format!("{name}=");
    runtime_stage(&instructions)
        .iter()
        .filter(|(w, _)| w == "ENV")
        .find_map(|(_, e)| {
            e.split_whitespace()
                .find_map(|kv| kv.strip_prefix(prefix.as_str()))
                .map(str::to_owned)
        })
}

/// The instructions of the last stage (the image that runs).
pub(super) fn runtime_stage(all: &[(String, String)]) -> &[(String, String)] {
    let last_from = all
        .iter()
        .rposition(|(w, _)| w == "FROM")
        .expect("a FROM line");
    &all[last_from..]
}

#[test]
fn compose_portcullis_variables_are_accepted_by_config_check() {
    let compose = compose();
    let vars = portcullis_variables(&compose);
    assert!(
        vars.contains_key("PORTCULLIS__DATABASE__URL")
            && vars.contains_key("PORTCULLIS__SESSIONS__URL"),
        "the compose file configures PostgreSQL and Redis: {vars:?}"
    );
    // Every interpolated variable set (a complete .env file) …
    let all_set: BTreeMap<String, String> = vars
        .iter()
        .map(|(k, v)| {
            (
                k.clone(),
                interpolate(v, |i| Some(placeholder(&i.name).to_owned())),
            )
        })
        .collect();
    config_check(&all_set, "every interpolated variable set");
    // … and only the required ones (the defaults in the file must be valid too).
    let required_only: BTreeMap<String, String> = vars
        .iter()
        .map(|(k, v)| {
            (
                k.clone(),
                interpolate(v, |i| i.required.then(|| placeholder(&i.name).to_owned())),
            )
        })
        .collect();
    config_check(
        &required_only,
        "only the `:?` variables set, defaults for the rest",
    );
}

#[test]
fn compose_publishes_the_port_portcullis_listens_on() {
    let compose = compose();
    let port = listen_port(&compose);
    let published = published_ports(service(&compose, "portcullis"));
    assert!(
        published.iter().any(|(_, container)| *container == port),
        "the portcullis service publishes container port {port} (PORTCULLIS__LISTEN); it \
         publishes {published:?}"
    );
    // The gRPC services, when the compose file turns them on, are published (and exposed by
    // the image) on the port they listen on.
    if let Some(grpc) = environment(service(&compose, "portcullis")).get("PORTCULLIS__GRPC__LISTEN")
    {
        let grpc_port: u16 = grpc
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("PORTCULLIS__GRPC__LISTEN `{grpc}` is not host:port"));
        assert!(
            published
                .iter()
                .any(|(_, container)| *container == grpc_port),
            "the portcullis service publishes gRPC port {grpc_port}; it publishes {published:?}"
        );
        assert!(
            repo_file("deploy/Dockerfile")
                .1
                .contains(&format!("EXPOSE 8080 {grpc_port}")),
            "the Dockerfile exposes the gRPC port {grpc_port}"
        );
    }
}

#[test]
fn healthchecks_use_healthz_on_the_listen_port() {
    let compose = compose();
    let port = listen_port(&compose);
    let command = healthcheck_command(service(&compose, "portcullis"))
        .expect("the portcullis service has a healthcheck test");
    let url = health_url(&command);
    assert_eq!(
        url.path(),
        "/healthz",
        "compose healthcheck path: `{command}`"
    );
    assert_eq!(
        url.port_or_known_default(),
        Some(port),
        "compose healthcheck port is PORTCULLIS__LISTEN's: `{command}`"
    );

    let instructions = dockerfile();
    let runtime = runtime_stage(&instructions);
    let (_, check) = runtime
        .iter()
        .find(|(w, _)| w == "HEALTHCHECK")
        .expect("the Dockerfile's runtime stage has a HEALTHCHECK");
    let docker_url = health_url(check);
    assert_eq!(
        docker_url.path(),
        url.path(),
        "the Dockerfile's HEALTHCHECK uses the same path as compose: `{check}`"
    );
    assert_eq!(
        docker_url.port_or_known_default(),
        Some(port),
        "the Dockerfile's HEALTHCHECK uses the listen port {port}: `{check}`"
    );
    let image_listen = image_env("PORTCULLIS__LISTEN").expect("the image sets PORTCULLIS__LISTEN");
    assert!(
        image_listen.ends_with(&format!(":{port}")),
        "the image's own PORTCULLIS__LISTEN ({image_listen}) uses port {port}"
    );
}

#[test]
fn compose_requires_the_master_key_because_the_database_is_postgres() {
    let compose = compose();
    let env = environment(service(&compose, "portcullis"));
    let database = env
        .get("PORTCULLIS__DATABASE__URL")
        .expect("PORTCULLIS__DATABASE__URL");
    assert!(
        database.starts_with("postgres://") || database.starts_with("postgresql://"),
        "the compose database is PostgreSQL: {database}"
    );
    let key = env
        .get("PORTCULLIS__MASTER_KEY")
        .expect("PostgreSQL needs PORTCULLIS__MASTER_KEY in the portcullis service");
    let found = interpolations(key);
    assert!(
        !found.is_empty() && found.iter().all(|i| i.required && i.default.is_none()),
        "PORTCULLIS__MASTER_KEY must be a required `${{VAR:?message}}` interpolation, so \
         compose refuses to start without it: `{key}`"
    );
    // The binary agrees: without the key it refuses to serve on PostgreSQL.
    let mut vars = portcullis_variables(&compose);
    vars.remove("PORTCULLIS__MASTER_KEY");
    vars.insert(
        "PORTCULLIS__DATABASE__URL".into(),
        "postgres://portcullis@127.0.0.1:1/portcullis".into(),
    );
    vars.insert("PORTCULLIS__LISTEN".into(), "127.0.0.1:0".into());
    let vars: BTreeMap<String, String> = vars
        .into_iter()
        .map(|(k, v)| {
            let v = interpolate(&v, |i| Some(placeholder(&i.name).to_owned()));
            (k, v)
        })
        .collect();
    let dir = tempfile::tempdir().expect("dir");
    let out = portcullis(dir.path())
        .arg("serve")
        .envs(&vars)
        .output()
        .expect("run");
    let (_, stderr) = text(&out);
    assert!(
        !out.status.success() && stderr.contains("MASTER_KEY"),
        "serve on PostgreSQL without a master key fails naming it: {stderr}"
    );
}

#[test]
fn postgres_and_redis_are_pinned_healthy_and_persistent() {
    let compose = compose();
    let declared: Vec<String> = compose["volumes"]
        .as_hash()
        .map(|h| h.keys().filter_map(scalar).collect())
        .unwrap_or_default();
    for name in ["postgres", "redis"] {
        let svc = service(&compose, name);
        let image = svc["image"].as_str().expect("image");
        let tag = image.split_once(':').map(|(_, t)| t).unwrap_or("");
        assert!(
            tag.chars().next().is_some_and(|c| c.is_ascii_digit()),
            "the {name} image is pinned to a major version (`{name}:17`), not `{image}`"
        );
        let check = healthcheck_command(svc);
        assert!(
            check
                .as_deref()
                .is_some_and(|c| !c.trim().is_empty() && c != "NONE"),
            "the {name} service has a healthcheck"
        );
        let volumes: Vec<String> = svc["volumes"]
            .as_vec()
            .map(|v| v.iter().filter_map(scalar).collect())
            .unwrap_or_default();
        assert!(
            !volumes.is_empty(),
            "the {name} service keeps its data in a volume"
        );
        for v in &volumes {
            let source = v.split(':').next().unwrap_or_default();
            assert!(
                source.starts_with(['.', '/']) || declared.iter().any(|d| d == source),
                "the {name} volume `{source}` is declared under top-level `volumes`"
            );
        }
    }
    let redis_volumes = service(&compose, "redis")["volumes"]
        .as_vec()
        .map(|v| v.iter().filter_map(scalar).collect::<Vec<_>>())
        .unwrap_or_default();
    assert!(
        redis_volumes.iter().any(|v| v.ends_with(":/data")),
        "the redis volume is mounted on /data, where the image writes its append-only file: \
         {redis_volumes:?}"
    );
    // Portcullis waits for both to be healthy.
    let depends = &service(&compose, "portcullis")["depends_on"];
    for name in ["postgres", "redis"] {
        assert_eq!(
            depends[name]["condition"].as_str(),
            Some("service_healthy"),
            "portcullis depends on {name} being healthy"
        );
    }
}

#[test]
fn compose_redis_runs_with_append_only_persistence() {
    let compose = compose();
    let command: Vec<String> = match &service(&compose, "redis")["command"] {
        Yaml::Array(a) => a.iter().filter_map(scalar).collect(),
        y => scalar(y)
            .map(|s| s.split_whitespace().map(str::to_owned).collect())
            .unwrap_or_default(),
    };
    assert!(
        command
            .windows(2)
            .any(|w| w[0] == "--appendonly" && w[1] == "yes"),
        "redis runs with `--appendonly yes` so that sessions survive a restart: {command:?}"
    );
}

#[test]
fn dockerfile_is_multi_stage_unprivileged_and_installs_no_c_libraries() {
    let instructions = dockerfile();
    let stages = instructions.iter().filter(|(w, _)| w == "FROM").count();
    assert!(stages >= 2, "the Dockerfile is multi-stage ({stages} FROM)");
    let runtime = runtime_stage(&instructions);
    assert!(
        runtime
            .iter()
            .any(|(w, a)| w == "COPY" && a.starts_with("--from=")),
        "the runtime stage copies the binary from the build stage"
    );
    let user = runtime
        .iter()
        .rev()
        .find(|(w, _)| w == "USER")
        .map(|(_, u)| u.clone())
        .expect("the runtime stage sets a USER");
    let name = user.split(':').next().unwrap_or_default();
    assert!(
        !name.is_empty() && name != "root" && name != "0",
        "the container runs as a non-root user, not `{user}`"
    );
    let compose = compose();
    let port = listen_port(&compose);
    let exposed: Vec<u16> = runtime
        .iter()
        .filter(|(w, _)| w == "EXPOSE")
        .flat_map(|(_, a)| a.split_whitespace().map(str::to_owned).collect::<Vec<_>>())
        .filter_map(|p| p.split('/').next().and_then(|p| p.parse().ok()))
        .collect();
    assert!(
        exposed.contains(&port),
        "the image EXPOSEs the listen port {port}: {exposed:?}"
    );
    // The binary links only the C library (native_libraries): neither stage installs a C
    // library or its headers.
    let installed: Vec<String> = instructions
        .iter()
        .filter(|(w, a)| w == "RUN" && a.contains("install"))
        .flat_map(|(_, a)| a.split_whitespace().map(str::to_owned).collect::<Vec<_>>())
        .collect();
    assert!(
        installed.iter().any(|p| p == "ca-certificates"),
        "the runtime stage installs CA certificates: {installed:?}"
    );
    for package in &installed {
        assert!(
            !(package.starts_with("libxml")
                || package.starts_with("libssl")
                || package.starts_with("libclang")
                || package.ends_with("-dev")),
            "the image installs {package}: {installed:?}"
        );
    }
}

#[test]
fn telemetry_profile_runs_a_collector_that_receives_otlp_grpc() {
    let compose = compose();
    let collector = service(&compose, "otel-collector");
    let profiles: Vec<String> = collector["profiles"]
        .as_vec()
        .map(|v| v.iter().filter_map(scalar).collect())
        .unwrap_or_default();
    assert_eq!(
        profiles,
        ["telemetry"],
        "the collector is optional: only under the `telemetry` profile"
    );
    let image = scalar(&collector["image"]).unwrap_or_default();
    assert!(
        image
            .rsplit_once(':')
            .is_some_and(|(_, tag)| tag != "latest"),
        "collector image pinned: {image}"
    );
    let mounts: Vec<String> = collector["volumes"]
        .as_vec()
        .map(|v| v.iter().filter_map(scalar).collect())
        .unwrap_or_default();
    let config = mounts
        .iter()
        .find_map(|m| m.strip_prefix("./").and_then(|m| m.split(':').next()))
        .unwrap_or_else(|| panic!("no config file mounted: {mounts:?}"));
    let (path, text) = repo_file(config);
    let doc = YamlLoader::load_from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not YAML: {e}", path.display()));
    let grpc =
        scalar(&doc[0]["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"]).unwrap_or_default();
    assert!(
        grpc.ends_with(":4317"),
        "the collector listens for OTLP/gRPC on 4317: {grpc}"
    );
    for pipeline in ["traces", "metrics"] {
        let receivers: Vec<String> = doc[0]["service"]["pipelines"][pipeline]["receivers"]
            .as_vec()
            .map(|v| v.iter().filter_map(scalar).collect())
            .unwrap_or_default();
        assert!(
            receivers.contains(&"otlp".to_owned()),
            "{pipeline} pipeline receives OTLP"
        );
    }
    // Portcullis can be pointed at it through the environment.
    let env = environment(service(&compose, "portcullis"));
    assert!(
        env.contains_key("PORTCULLIS__TELEMETRY__OTLP_ENDPOINT"),
        "{env:?}"
    );
}

/// The host address each published port binds (`None`: every interface).
fn published_host_ips(svc: &Yaml) -> Vec<(Option<String>, String)> {
    let Some(ports) = svc["ports"].as_vec() else {
        return Vec::new();
    };
    ports
        .iter()
        .map(|p| {
            if !p["target"].is_badvalue() {
                return (scalar(&p["host_ip"]), scalar(p).unwrap_or_default());
            }
            let spec = scalar(p).expect("a port");
            let parts: Vec<&str> = spec.split(':').collect();
            let ip = (parts.len() == 3).then(|| parts[0].to_owned());
            (ip, spec)
        })
        .collect()
}

#[test]
fn only_the_web_port_is_published_beyond_loopback() {
    let compose = compose();
    let web = listen_port(&compose);
    for (name, svc) in compose["services"].as_hash().expect("services") {
        let name = scalar(name).unwrap_or_default();
        for ((ip, spec), (_, container)) in published_host_ips(svc)
            .into_iter()
            .zip(published_ports(svc))
        {
            if name == "portcullis" && container == web {
                continue;
            }
            assert_eq!(
                ip.as_deref(),
                Some("127.0.0.1"),
                "{name} publishes `{spec}` on every interface: bind it to 127.0.0.1"
            );
        }
    }
    // `/metrics` is on a port of its own, published (to loopback) and exposed by the image.
    let env = environment(service(&compose, "portcullis"));
    let metrics = env
        .get("PORTCULLIS__TELEMETRY__PROMETHEUS_LISTEN")
        .expect("the compose file serves /metrics on a port of its own");
    let port: u16 = metrics
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("PORTCULLIS__TELEMETRY__PROMETHEUS_LISTEN `{metrics}`"));
    assert!(
        published_ports(service(&compose, "portcullis"))
            .iter()
            .any(|(_, c)| *c == port),
        "the metrics port {port} is published"
    );
    let exposed = runtime_stage(&dockerfile())
        .iter()
        .filter(|(w, _)| w == "EXPOSE")
        .any(|(_, a)| a.split_whitespace().any(|p| p == port.to_string()));
    assert!(exposed, "the image EXPOSEs the metrics port {port}");
}

#[test]
fn the_data_directory_is_a_volume_and_the_build_context_leaves_out_target() {
    let instructions = dockerfile();
    let runtime = runtime_stage(&instructions);
    let data_dir = image_env("PORTCULLIS__DATA_DIR").expect("the image sets PORTCULLIS__DATA_DIR");
    let volume = runtime
        .iter()
        .find(|(w, _)| w == "VOLUME")
        .map(|(_, v)| v.clone())
        .expect("the image declares a VOLUME");
    assert!(
        volume.contains(&format!("\"{data_dir}\""))
            || volume.split_whitespace().any(|v| v == data_dir),
        "the VOLUME ({volume}) is the data directory {data_dir}"
    );
    // Compose keeps it in a named volume: a new container keeps the generated bootstrap token.
    let compose = compose();
    let declared: Vec<String> = compose["volumes"]
        .as_hash()
        .map(|h| h.keys().filter_map(scalar).collect())
        .unwrap_or_default();
    let mounts: Vec<String> = service(&compose, "portcullis")["volumes"]
        .as_vec()
        .map(|v| v.iter().filter_map(scalar).collect())
        .unwrap_or_default();
    assert!(
        mounts
            .iter()
            .any(|m| m.split_once(':').is_some_and(|(source, target)| {
                declared.iter().any(|d| d == source) && target.trim_end_matches(":rw") == data_dir
            })),
        "the portcullis service mounts a declared named volume on {data_dir}: {mounts:?}"
    );
    let (_, ignore) = repo_file(".dockerignore");
    let patterns: Vec<&str> = ignore
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    for needed in ["target/", "data/", ".git/"] {
        assert!(
            patterns.contains(&needed),
            ".dockerignore leaves out {needed}: {patterns:?}"
        );
    }
}

#[test]
fn the_image_build_caches_dependencies_and_strips_the_binary() {
    let (_, text) = repo_file("deploy/Dockerfile");
    assert!(
        text.starts_with("# syntax=docker/dockerfile:1"),
        "BuildKit syntax first: RUN --mount needs it"
    );
    let instructions = dockerfile();
    let build = instructions
        .iter()
        .find(|(w, a)| w == "RUN" && a.contains("cargo build"))
        .map(|(_, a)| a.clone())
        .expect("a RUN with cargo build");
    for cache in ["/usr/local/cargo/registry", "target"] {
        assert!(
            build
                .split_whitespace()
                .any(|w| w.starts_with("--mount=type=cache") && w.contains(cache)),
            "cargo build runs with a cache mount for {cache}: {build}"
        );
    }
    assert!(
        build.contains("--release") && build.contains("--locked"),
        "{build}"
    );
    let strips = instructions.iter().any(|(w, a)| {
        w == "ENV"
            && a.split_whitespace()
                .any(|kv| kv == "CARGO_PROFILE_RELEASE_STRIP=symbols")
    });
    assert!(strips, "the image's release build strips symbols");
}
