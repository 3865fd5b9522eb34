//! Tests of the generic key lifecycle, with a kind of key whose material costs nothing to make.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use portcullis_domain::Actor;
use portcullis_sessions::ManualClock;
use portcullis_store::{Directory, NewSigningKey};

use super::*;
use crate::seal::SecretBox;

const SEALING_KEY: [u8; 32] = [7; 32];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Alg {
    A,
    B,
}

/// Material that checks it came back as it was made: the public half names the private one.
#[derive(Debug)]
struct Fake {
    private: Vec<u8>,
}

fn public_of(private: &[u8]) -> String {
    format!("public:{}", private.len())
}

impl KeyKind for Fake {
    const PURPOSE: &'static str = "fake";
    const NAME: &'static str = "fake key";
    type Algorithm = Alg;
    const ALGORITHMS: &'static [Alg] = &[Alg::A, Alg::B];

    fn algorithm_name(alg: Alg) -> &'static str {
        match alg {
            Alg::A => "A",
            Alg::B => "B",
        }
    }

    fn generate(alg: Alg) -> Result<NewKey, String> {
        let private: Vec<u8> = (0..16).map(|_| rand::random::<u8>()).collect();
        let kid = format!(
            "{}-{}",
            Self::algorithm_name(alg),
            private
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        );
        Ok(NewKey {
            kid,
            public: public_of(&private),
            private,
        })
    }

    fn open(alg: Alg, kid: &str, private: &[u8], public: &str) -> Result<Self, String> {
        if !kid.starts_with(Self::algorithm_name(alg)) || public != public_of(private) {
            return Err("not a fake key".into());
        }
        Ok(Self {
            private: private.to_vec(),
        })
    }
}

fn start() -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000, 0).unwrap()
}

struct Nodes {
    _dir: tempfile::TempDir,
    directory: Arc<dyn Directory>,
    clock: Arc<ManualClock>,
}

impl Nodes {
    async fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let directory: Arc<dyn Directory> =
            Arc::new(portcullis_store::testing::sqlite_in(dir.path()).await);
        Self {
            _dir: dir,
            directory,
            clock: Arc::new(ManualClock::new(start())),
        }
    }

    /// One node's view of the keys.
    fn node(&self) -> KeyLifecycle<Fake> {
        self.node_with(SEALING_KEY)
    }

    fn node_with(&self, sealing_key: [u8; 32]) -> KeyLifecycle<Fake> {
        KeyLifecycle::new(
            self.directory.clone(),
            self.clock.clone(),
            sealing_key,
            KeyConfig::default(),
        )
    }

    /// What the store holds.
    async fn stored(&self) -> Vec<portcullis_store::SigningKey> {
        self.directory.list_signing_keys("fake").await.unwrap()
    }

    fn advance(&self, by: Duration) {
        self.clock.advance(delta(by));
    }
}

fn kids<M: KeyKind>(keys: &[Arc<Key<M>>]) -> Vec<&str> {
    keys.iter().map(|k| k.kid.as_str()).collect()
}

#[tokio::test]
async fn the_first_start_makes_one_backdated_key_per_algorithm_once() {
    let nodes = Nodes::new().await;
    let (one, two) = (nodes.node(), nodes.node());
    one.ensure_keys().await.unwrap();
    two.ensure_keys().await.unwrap();
    one.ensure_keys().await.unwrap();
    let stored = nodes.stored().await;
    assert_eq!(
        stored.len(),
        2,
        "one key per algorithm, however many nodes start"
    );
    for k in &stored {
        assert_eq!(k.active_from, start() - FIRST_KEY_BACKDATE);
        assert_eq!(k.retired_at, None);
    }
    let a = one.signing_key(Alg::A).await.unwrap().unwrap();
    let b = two.signing_key(Alg::B).await.unwrap().unwrap();
    assert_eq!(a.algorithm, Alg::A);
    assert!(a.kid.starts_with("A-") && b.kid.starts_with("B-"));
    assert_ne!(a.private, b.private);
    assert_eq!(
        two.signing_key(Alg::A).await.unwrap().unwrap().kid,
        a.kid,
        "both nodes sign with the same key"
    );
    assert!(one.ready().await.unwrap());
}

#[tokio::test]
async fn keys_are_stored_sealed_under_their_kid() {
    let nodes = Nodes::new().await;
    nodes.node().ensure_keys().await.unwrap();
    let sealer = SecretBox::new(&SEALING_KEY);
    for k in nodes.stored().await {
        assert_eq!(k.purpose, "fake");
        assert_eq!(&k.kid[..1], k.algorithm);
        let private = sealer.open(&k.private_key, k.kid.as_bytes()).unwrap();
        assert_eq!(k.public_key, public_of(&private));
        assert!(sealer.open(&k.private_key, b"another kid").is_err());
    }
    // Another master key cannot open them: start-up stops, naming the master key.
    let wrong = nodes.node_with([8; 32]).ensure_keys().await.unwrap_err();
    assert!(matches!(&wrong, KeyStoreError::Corrupt(why) if why.contains("master key")));
}

#[tokio::test]
async fn a_rotation_publishes_ahead_then_signs_then_retires_and_prunes() {
    let nodes = Nodes::new().await;
    let node = nodes.node();
    let config = KeyConfig::default();
    node.ensure_keys().await.unwrap();
    let old = node.signing_key(Alg::A).await.unwrap().unwrap();

    let new = node.rotate(Actor::System).await.unwrap();
    assert_eq!(new.len(), 2);
    let published = node.published().await.unwrap();
    assert_eq!(published.len(), 4, "{:?}", kids(&published));
    let mut newest = kids(&published)[..2].to_vec();
    newest.sort_unstable();
    assert_eq!(&new[..], &newest[..], "newest first");
    let states = |list: Vec<KeyInfo<Alg>>| -> Vec<(String, &'static str)> {
        list.into_iter().map(|k| (k.kid, k.state)).collect()
    };
    let listed = states(node.list().await.unwrap());
    assert!(listed.contains(&(new[0].clone(), "pending")), "{listed:?}");
    assert!(listed.contains(&(old.kid.clone(), "active")), "{listed:?}");
    assert_eq!(
        node.signing_key(Alg::A).await.unwrap().unwrap().kid,
        old.kid,
        "the old key signs until the new one is due"
    );

    nodes.advance(config.publish_ahead);
    let signing = node.signing_key(Alg::A).await.unwrap().unwrap();
    assert!(new.contains(&signing.kid), "the new key signs");
    let listed = states(node.list().await.unwrap());
    assert!(listed.contains(&(old.kid.clone(), "retired")), "{listed:?}");
    assert!(
        node.find(&old.kid).await.unwrap().is_some(),
        "retired, still published"
    );

    nodes.advance(config.retain_after_retirement);
    assert!(node.find(&old.kid).await.unwrap().is_none());
    assert_eq!(node.published().await.unwrap().len(), 2);
    assert!(!node.rotate_if_due().await.unwrap(), "not due");
    assert_eq!(
        nodes.stored().await.len(),
        2,
        "retired keys past retention are deleted"
    );
}

#[tokio::test]
async fn the_schedule_rotates_once_when_due() {
    let nodes = Nodes::new().await;
    let (one, two) = (nodes.node(), nodes.node());
    one.ensure_keys().await.unwrap();
    let config = KeyConfig::default();
    // Due when a successor published now would start signing `rotation_interval` after the
    // first key did.
    nodes.advance(config.rotation_interval - config.publish_ahead);
    nodes
        .clock
        .advance(-FIRST_KEY_BACKDATE - TimeDelta::seconds(1));
    assert!(!one.rotate_if_due().await.unwrap(), "a second early");
    nodes.clock.advance(TimeDelta::seconds(1));
    assert!(one.rotate_if_due().await.unwrap(), "due");
    assert!(!two.rotate_if_due().await.unwrap(), "rotated already");
    assert_eq!(nodes.stored().await.len(), 4);
}

#[tokio::test]
async fn the_schedule_makes_keys_for_an_empty_store() {
    let nodes = Nodes::new().await;
    let node = nodes.node();
    assert!(!node.rotate_if_due().await.unwrap());
    assert!(node.ready().await.unwrap());
}

#[tokio::test]
async fn each_node_caches_the_set_and_rereads_for_an_unknown_kid() {
    let nodes = Nodes::new().await;
    let (one, two) = (nodes.node(), nodes.node());
    one.ensure_keys().await.unwrap();
    assert_eq!(two.published().await.unwrap().len(), 2);
    let reads = two.reloads();
    assert_eq!(two.published().await.unwrap().len(), 2);
    assert_eq!(two.reloads(), reads, "served from the cache");

    let new = one.rotate(Actor::System).await.unwrap();
    assert_eq!(
        one.published().await.unwrap().len(),
        4,
        "its own change at once"
    );
    assert_eq!(two.published().await.unwrap().len(), 2, "cached");
    // A kid it does not know: rereads at once.
    assert!(two.find(&new[0]).await.unwrap().is_some());
    assert_eq!(two.published().await.unwrap().len(), 4);

    // Made-up kids reread at most once a second.
    let reads = two.reloads();
    for i in 0..20 {
        assert!(two.find(&format!("nobody-{i}")).await.unwrap().is_none());
    }
    assert!(
        two.reloads() - reads <= 1,
        "{} rereads",
        two.reloads() - reads
    );

    // Otherwise the copy is kept for `cache_ttl`.
    nodes
        .directory
        .retire_signing_key(Actor::System, &new[0], start())
        .await
        .unwrap();
    nodes.advance(KeyConfig::default().cache_ttl);
    let reread = two.find(&new[0]).await.unwrap().unwrap();
    assert_eq!(reread.retired_at, Some(start()), "reread after cache_ttl");
}

#[tokio::test]
async fn keys_of_unknown_algorithms_are_skipped() {
    let nodes = Nodes::new().await;
    let node = nodes.node();
    node.ensure_keys().await.unwrap();
    let sealer = SecretBox::new(&SEALING_KEY);
    nodes
        .directory
        .insert_signing_key(
            Actor::System,
            NewSigningKey {
                kid: "C-1".into(),
                purpose: "fake".into(),
                algorithm: "C".into(),
                private_key: sealer.seal(b"x", b"C-1"),
                public_key: public_of(b"x"),
                active_from: start(),
            },
        )
        .await
        .unwrap();
    nodes.advance(KeyConfig::default().cache_ttl);
    assert_eq!(node.published().await.unwrap().len(), 2);
    assert_eq!(node.list().await.unwrap().len(), 2);
    assert!(node.find("C-1").await.unwrap().is_none());
}
