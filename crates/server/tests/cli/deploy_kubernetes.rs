//! The Kubernetes manifests (`deploy/kubernetes/`) checked against the binary, the image and
//! each other: the settings pass `config check`, the probes and Services point at ports the
//! container listens on, selectors select the pods, the pods run as the image's user.

use std::collections::BTreeMap;

use yaml_rust2::{Yaml, YamlLoader};

use super::deploy_files::{config_check, image_env, repo_file, scalar};

const DIR: &str = "deploy/kubernetes";

/// Every document of a manifest file.
fn documents(file: &str) -> Vec<Yaml> {
    let (path, text) = repo_file(&format!("{DIR}/{file}"));
    YamlLoader::load_from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not YAML: {e}", path.display()))
}

/// The resources the kustomization applies, by kind.
fn resources() -> BTreeMap<String, Yaml> {
    let kustomization = documents("kustomization.yaml").remove(0);
    let mut by_kind = BTreeMap::new();
    for file in kustomization["resources"].as_vec().expect("resources") {
        let file = scalar(file).expect("a file name");
        for doc in documents(&file) {
            let kind = scalar(&doc["kind"]).unwrap_or_else(|| panic!("{file}: a kind"));
            assert!(
                by_kind.insert(kind.clone(), doc).is_none(),
                "one {kind} in the manifests"
            );
        }
    }
    by_kind
}

fn container(deployment: &Yaml) -> &Yaml {
    let containers = deployment["spec"]["template"]["spec"]["containers"]
        .as_vec()
        .expect("containers");
    assert_eq!(containers.len(), 1, "one container");
    &containers[0]
}

/// The container's ports by name.
fn container_ports(deployment: &Yaml) -> BTreeMap<String, u16> {
    container(deployment)["ports"]
        .as_vec()
        .expect("ports")
        .iter()
        .map(|p| {
            let port = p["containerPort"].as_i64().expect("containerPort");
            (
                scalar(&p["name"]).expect("a named port"),
                u16::try_from(port).expect("a port"),
            )
        })
        .collect()
}

/// A port reference (a name or a number) resolved against the container's ports.
fn resolve(reference: &Yaml, ports: &BTreeMap<String, u16>) -> u16 {
    match reference {
        Yaml::Integer(n) => u16::try_from(*n).expect("a port"),
        other => {
            let name = scalar(other).expect("a port reference");
            *ports
                .get(&name)
                .unwrap_or_else(|| panic!("no container port named {name}: {ports:?}"))
        }
    }
}

fn port_of(listen: &str) -> u16 {
    listen
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("`{listen}` is not host:port"))
}

/// The ConfigMap's settings and, for each secret the Deployment reads, the example Secret's value.
fn environment(all: &BTreeMap<String, Yaml>) -> BTreeMap<String, String> {
    let mut env: BTreeMap<String, String> = all["ConfigMap"]["data"]
        .as_hash()
        .expect("ConfigMap data")
        .iter()
        .map(|(k, v)| (scalar(k).expect("key"), scalar(v).expect("a string value")))
        .collect();
    let secret = documents("secret.example.yaml").remove(0);
    let c = container(&all["Deployment"]);
    for var in c["env"].as_vec().expect("env") {
        let name = scalar(&var["name"]).expect("name");
        let from = &var["valueFrom"]["secretKeyRef"];
        let key = scalar(&from["key"]).expect("a secretKeyRef key");
        assert_eq!(
            scalar(&from["name"]),
            scalar(&secret["metadata"]["name"]),
            "{name} reads the Secret the example shows"
        );
        let value = scalar(&secret["stringData"][key.as_str()])
            .unwrap_or_else(|| panic!("the example Secret has the key {key} that {name} reads"));
        env.insert(name, value);
    }
    env
}

#[test]
fn kubernetes_settings_are_accepted_by_config_check() {
    let all = resources();
    let env = environment(&all);
    for needed in [
        "PORTCULLIS__DATABASE__URL",
        "PORTCULLIS__SESSIONS__URL",
        "PORTCULLIS__MASTER_KEY",
    ] {
        assert!(env.contains_key(needed), "the manifests set {needed}");
    }
    config_check(&env, "the ConfigMap with the example Secret");
    // The Deployment reads the ConfigMap the kustomization applies.
    let from = container(&all["Deployment"])["envFrom"][0]["configMapRef"]["name"].clone();
    assert_eq!(scalar(&from), scalar(&all["ConfigMap"]["metadata"]["name"]));
}

#[test]
fn kubernetes_probes_and_services_point_at_the_listening_ports() {
    let all = resources();
    let env = environment(&all);
    let deployment = &all["Deployment"];
    let ports = container_ports(deployment);
    for (var, name) in [
        ("PORTCULLIS__LISTEN", "http"),
        ("PORTCULLIS__GRPC__LISTEN", "grpc"),
        ("PORTCULLIS__TELEMETRY__PROMETHEUS_LISTEN", "metrics"),
    ] {
        let listen = env.get(var).unwrap_or_else(|| panic!("{var} is set"));
        assert!(
            listen.starts_with("0.0.0.0:"),
            "in a pod {var} listens on every interface: {listen}"
        );
        assert_eq!(
            ports.get(name),
            Some(&port_of(listen)),
            "{var} is the {name} port"
        );
    }
    let c = container(deployment);
    for (probe, path) in [
        ("readinessProbe", "/readyz"),
        ("livenessProbe", "/healthz"),
        ("startupProbe", "/healthz"),
    ] {
        let get = &c[probe]["httpGet"];
        assert_eq!(scalar(&get["path"]).as_deref(), Some(path), "{probe}");
        assert_eq!(
            resolve(&get["port"], &ports),
            port_of(&env["PORTCULLIS__LISTEN"]),
            "{probe} asks the web port"
        );
    }
    let labels = &deployment["spec"]["template"]["metadata"]["labels"];
    let selected = |selector: &Yaml| {
        selector
            .as_hash()
            .expect("a selector")
            .iter()
            .all(|(k, v)| labels[scalar(k).expect("key").as_str()] == *v)
    };
    assert!(selected(&deployment["spec"]["selector"]["matchLabels"]));
    let service = &all["Service"];
    assert!(
        selected(&service["spec"]["selector"]),
        "the Service selects the pods"
    );
    for port in service["spec"]["ports"].as_vec().expect("ports") {
        resolve(&port["targetPort"], &ports);
    }
    let pdb = &all["PodDisruptionBudget"];
    assert!(
        selected(&pdb["spec"]["selector"]["matchLabels"]),
        "the budget covers the pods"
    );
    let replicas = deployment["spec"]["replicas"].as_i64().expect("replicas");
    let min = pdb["spec"]["minAvailable"].as_i64().expect("minAvailable");
    assert!(
        (1..replicas).contains(&min),
        "a drain can proceed ({min} of {replicas} must stay) and never takes the last node"
    );
}

#[test]
fn kubernetes_pods_run_as_the_image_user_with_the_data_directory_mounted() {
    let all = resources();
    let spec = &all["Deployment"]["spec"]["template"]["spec"];
    let (_, dockerfile_text) = repo_file("deploy/Dockerfile");
    let uid = dockerfile_text
        .split_whitespace()
        .skip_while(|w| *w != "--uid")
        .nth(1)
        .and_then(|u| u.parse::<i64>().ok())
        .expect("the Dockerfile creates its user with --uid");
    assert_eq!(
        spec["securityContext"]["runAsNonRoot"].as_bool(),
        Some(true)
    );
    assert_eq!(spec["securityContext"]["runAsUser"].as_i64(), Some(uid));
    let c = container(&all["Deployment"]);
    assert_eq!(
        c["securityContext"]["readOnlyRootFilesystem"].as_bool(),
        Some(true),
        "a read-only root: Portcullis writes only to its data directory"
    );
    let data_dir = image_env("PORTCULLIS__DATA_DIR").expect("the image sets PORTCULLIS__DATA_DIR");
    let mounted = c["volumeMounts"]
        .as_vec()
        .expect("volumeMounts")
        .iter()
        .find(|m| scalar(&m["mountPath"]).as_deref() == Some(data_dir.as_str()))
        .map(|m| scalar(&m["name"]).expect("name"))
        .unwrap_or_else(|| panic!("the data directory {data_dir} is mounted"));
    assert!(
        spec["volumes"]
            .as_vec()
            .expect("volumes")
            .iter()
            .any(|v| scalar(&v["name"]).as_deref() == Some(mounted.as_str())),
        "the mounted volume {mounted} is declared"
    );
    // The grace period outlasts the server's 30 s shutdown timeout.
    let grace = spec["terminationGracePeriodSeconds"]
        .as_i64()
        .expect("grace");
    assert!(grace > 30, "terminationGracePeriodSeconds {grace} > 30");
}
