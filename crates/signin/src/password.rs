//! Passwords: argon2id hashing on the blocking pool, a dummy hash so unknown users cost the same
//! time as known ones, re-hashing when the parameters change, and the password policy.

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;

use argon2::password_hash::PasswordHasher;
use argon2::password_hash::phc::PasswordHash;
use argon2::{Algorithm, Argon2, Block, Params, Version};
use portcullis_domain::User;

/// A password as typed by a person. Never printed.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// argon2id cost and the password policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordConfig {
    /// Memory in KiB (default 19456, OWASP's recommendation).
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
    /// Minimum length in characters (default 8; at most 128).
    pub min_length: usize,
}

impl Default for PasswordConfig {
    fn default() -> Self {
        Self {
            memory_kib: 19_456,
            iterations: 2,
            parallelism: 1,
            min_length: 8,
        }
    }
}

/// The longest password accepted (longer input is refused before hashing).
pub const MAX_LENGTH: usize = 128;

/// The outcome of checking a password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verification {
    Match { needs_rehash: bool },
    NoMatch,
}

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("invalid argon2 parameters: {0}")]
    Params(String),
    #[error("hashing failed: {0}")]
    Hash(String),
}

/// Hashes and checks passwords; holds the policy's list of common passwords.
#[derive(Clone)]
pub struct Passwords {
    params: Params,
    min_length: usize,
    common: Arc<HashSet<String>>,
    dummy_hash: Arc<String>,
    /// At most one hash per core at a time: argon2 is CPU-bound, so more in parallel only adds
    /// their memory (m_cost each, kept by the allocator per thread) without finishing sooner.
    slots: Arc<tokio::sync::Semaphore>,
    /// Argon2 working memory (m_cost KiB each), reused from one verification to the next: at
    /// most one per slot, so the server's resident memory for passwords stays at cores × m_cost
    /// however many people sign in, and no hash pays for faulting in fresh pages.
    memory: Arc<MemoryPool>,
}

impl fmt::Debug for Passwords {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Passwords")
            .field("m_cost", &self.params.m_cost())
            .field("t_cost", &self.params.t_cost())
            .field("p_cost", &self.params.p_cost())
            .field("min_length", &self.min_length)
            .finish()
    }
}

const COMMON_PASSWORDS: &str = include_str!("../data/common-passwords.txt");

impl Passwords {
    pub fn new(config: &PasswordConfig) -> Result<Self, PasswordError> {
        if config.min_length == 0 || config.min_length > MAX_LENGTH {
            return Err(PasswordError::Params(format!(
                "the minimum password length must be between 1 and {MAX_LENGTH}"
            )));
        }
        let params = Params::new(
            config.memory_kib,
            config.iterations,
            config.parallelism,
            None,
        )
        .map_err(|e| PasswordError::Params(e.to_string()))?;
        let common = COMMON_PASSWORDS.lines().map(str::to_owned).collect();
        let hasher = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
        let dummy = hasher
            .hash_password(b"portcullis-dummy-password")
            .map_err(|e| PasswordError::Hash(e.to_string()))?
            .to_string();
        Ok(Self {
            params,
            min_length: config.min_length,
            common: Arc::new(common),
            dummy_hash: Arc::new(dummy),
            slots: Arc::new(tokio::sync::Semaphore::new(
                std::thread::available_parallelism().map_or(2, |n| n.get()),
            )),
            memory: Arc::default(),
        })
    }

    /// A PHC string for a new password (argon2id, random salt), computed on the blocking pool.
    pub async fn hash(&self, password: &Password) -> Result<String, PasswordError> {
        let pw = password.clone();
        let params = self.params.clone();
        let pool = self.memory.clone();
        let _slot = self.slots.acquire().await;
        tokio::task::spawn_blocking(move || hash_with_pool(pw.expose().as_bytes(), &params, &pool))
            .await
            .map_err(|e| PasswordError::Hash(e.to_string()))?
    }

    /// Checks `password` against `stored`, or against a dummy hash when there is none, so that
    /// an unknown user takes as long as a wrong password. Runs on the blocking pool.
    #[tracing::instrument(skip_all)]
    pub async fn verify(&self, password: &Password, stored: Option<&str>) -> Verification {
        let real = stored.map(str::to_owned);
        let target = real
            .clone()
            .unwrap_or_else(|| self.dummy_hash.as_ref().clone());
        let pw = password.clone();
        let wanted = self.params.clone();
        let pool = self.memory.clone();
        let _slot = self.slots.acquire().await;
        let outcome = tokio::task::spawn_blocking(move || {
            let Ok(parsed) = PasswordHash::new(&target) else {
                return Verification::NoMatch;
            };
            if pw.expose().len() > MAX_LENGTH * 4
                || !matches_with_pool(&parsed, pw.expose().as_bytes(), &pool, &wanted)
            {
                return Verification::NoMatch;
            }
            let needs_rehash = Params::try_from(&parsed).map(|p| {
                p.m_cost() != wanted.m_cost()
                    || p.t_cost() != wanted.t_cost()
                    || p.p_cost() != wanted.p_cost()
            });
            Verification::Match {
                needs_rehash: needs_rehash.unwrap_or(true)
                    || parsed.algorithm.as_str() != "argon2id",
            }
        })
        .await
        .unwrap_or(Verification::NoMatch);
        if real.is_none() {
            Verification::NoMatch
        } else {
            outcome
        }
    }

    /// The policy: length, not the user name or email, not a common password. Returns the
    /// message to show the person.
    pub fn check_policy(&self, password: &Password, user: &User) -> Result<(), String> {
        let p = password.expose();
        let len = p.chars().count();
        if len < self.min_length {
            return Err(format!("Use at least {} characters.", self.min_length));
        }
        if len > MAX_LENGTH {
            return Err(format!("Use at most {MAX_LENGTH} characters."));
        }
        let lower = p.to_lowercase();
        if lower == user.user_name.as_str().to_lowercase()
            || lower == user.email.as_str().to_lowercase()
        {
            return Err("Your password must not be your user name or email address.".into());
        }
        if self.common.contains(&lower) {
            return Err("This password is too common: choose one that is harder to guess.".into());
        }
        Ok(())
    }

    pub fn min_length(&self) -> usize {
        self.min_length
    }
}

type MemoryPool = std::sync::Mutex<Vec<Vec<Block>>>;

/// Runs `f` on `blocks` blocks of working memory from `pool`, and gives the memory back when it
/// is no bigger than what `configured` needs (a bigger one, for an old hash with a higher cost,
/// is dropped).
fn with_memory<T>(
    pool: &MemoryPool,
    blocks: usize,
    configured: &Params,
    f: impl FnOnce(&mut [Block]) -> T,
) -> T {
    let mut memory = pool
        .lock()
        .ok()
        .and_then(|mut p| p.pop())
        .unwrap_or_default();
    memory.resize(blocks, Block::default());
    let out = f(&mut memory[..blocks]);
    if memory.len() <= configured.block_count()
        && let Ok(mut p) = pool.lock()
    {
        p.push(memory);
    }
    out
}

/// A PHC string for `password`: argon2id with `params` and a random 16-byte salt, computed in
/// pooled working memory.
fn hash_with_pool(
    password: &[u8],
    params: &Params,
    pool: &MemoryPool,
) -> Result<String, PasswordError> {
    use argon2::password_hash::phc::{Output, ParamsString, Salt};
    use rand::RngCore as _;
    let fail = |e: &dyn fmt::Display| PasswordError::Hash(e.to_string());
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let mut out = [0u8; 32];
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    with_memory(pool, params.block_count(), params, |memory| {
        argon2.hash_password_into_with_memory(password, &salt, &mut out, memory)
    })
    .map_err(|e| fail(&e))?;
    let hash = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(params).map_err(|e| fail(&e))?,
        salt: Some(Salt::new(&salt).map_err(|e| fail(&e))?),
        hash: Some(Output::new(&out).map_err(|e| fail(&e))?),
    };
    Ok(hash.to_string())
}

/// Recomputes `parsed` for `password` (its own algorithm, version, parameters and salt) in
/// working memory taken from `pool`, and compares the outputs in constant time. Memory sized for
/// the configured parameters goes back to the pool; a larger block (an old hash with a higher
/// cost) is dropped after use.
fn matches_with_pool(
    parsed: &PasswordHash,
    password: &[u8],
    pool: &MemoryPool,
    configured: &Params,
) -> bool {
    let (Some(salt), Some(expected)) = (&parsed.salt, &parsed.hash) else {
        return false;
    };
    let Ok(algorithm) = Algorithm::new(parsed.algorithm.as_str()) else {
        return false;
    };
    let version = match parsed.version.map(Version::try_from).transpose() {
        Ok(v) => v.unwrap_or_default(),
        Err(_) => return false,
    };
    let Ok(params) = Params::try_from(parsed) else {
        return false;
    };
    let mut out = vec![0u8; expected.len()];
    let argon2 = Argon2::new(algorithm, version, params.clone());
    let hashed = with_memory(pool, params.block_count(), configured, |memory| {
        argon2.hash_password_into_with_memory(password, salt.as_ref(), &mut out, memory)
    })
    .is_ok();
    use subtle::ConstantTimeEq as _;
    hashed && expected.as_bytes().ct_eq(&out).into()
}

/// A random password for an administrator to hand over (one-time, must be changed): 16
/// characters from an alphabet without look-alikes.
pub fn generate_one_time_password() -> Password {
    use rand::Rng;
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rng();
    let s: String = (0..16)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect();
    Password::new(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cheap() -> Passwords {
        Passwords::new(&PasswordConfig {
            memory_kib: 1024,
            iterations: 1,
            parallelism: 1,
            min_length: 8,
        })
        .expect("params")
    }

    #[tokio::test]
    async fn hashes_verify_and_detect_parameter_changes() {
        let p = cheap();
        let pw = Password::new("correct horse battery");
        let h = p.hash(&pw).await.expect("hash");
        assert!(h.starts_with("$argon2id$v=19$m=1024,t=1,p=1$"));
        assert_eq!(
            p.verify(&pw, Some(&h)).await,
            Verification::Match {
                needs_rehash: false
            }
        );
        assert_eq!(
            p.verify(&Password::new("wrong"), Some(&h)).await,
            Verification::NoMatch
        );
        assert_eq!(p.verify(&pw, None).await, Verification::NoMatch);
        assert_eq!(p.verify(&pw, Some("garbage")).await, Verification::NoMatch);
        let stronger = Passwords::new(&PasswordConfig {
            memory_kib: 2048,
            ..PasswordConfig::default()
        })
        .expect("params");
        assert_eq!(
            stronger.verify(&pw, Some(&h)).await,
            Verification::Match { needs_rehash: true }
        );
    }

    #[tokio::test]
    async fn working_memory_is_reused_not_grown() {
        let p = cheap();
        let pw = Password::new("correct horse battery");
        let h = p.hash(&pw).await.expect("hash");
        for _ in 0..5 {
            assert!(matches!(
                p.verify(&pw, Some(&h)).await,
                Verification::Match { .. }
            ));
        }
        {
            let pool = p.memory.lock().expect("pool");
            assert_eq!(pool.len(), 1, "one verification at a time needs one buffer");
            assert_eq!(pool[0].len(), 1024, "m=1024 KiB is 1024 blocks");
        }
        // A hash made with a higher cost still verifies; its bigger buffer is not kept.
        let costly = Passwords::new(&PasswordConfig {
            memory_kib: 4096,
            ..PasswordConfig::default()
        })
        .expect("params");
        let h4 = costly.hash(&pw).await.expect("hash");
        assert_eq!(
            p.verify(&pw, Some(&h4)).await,
            Verification::Match { needs_rehash: true }
        );
        assert!(
            p.memory
                .lock()
                .expect("pool")
                .iter()
                .all(|m| m.len() <= 1024)
        );
        // Tampered output: same length, different bytes.
        let tampered = format!("{}A", &h[..h.len() - 1]);
        if tampered != h {
            assert_eq!(p.verify(&pw, Some(&tampered)).await, Verification::NoMatch);
        }
    }

    #[test]
    fn one_time_passwords_are_long_and_unambiguous() {
        let a = generate_one_time_password();
        assert_eq!(a.expose().len(), 16);
        assert!(!a.expose().contains(['0', 'O', 'l', '1', 'I']));
        assert_ne!(a.expose(), generate_one_time_password().expose());
        assert_eq!(format!("{a:?}"), "Password(<redacted>)");
    }
}
