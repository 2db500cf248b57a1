//! Where the keys that sign a call come from: fixed keys, temporary keys with a session token,
//! or any [`CredentialSource`] (the keyless OIDC flow plugs in here and refreshes itself).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;

use super::error::ClientError;
use super::tc3::SigningKey;
use crate::runner::Secret;

/// A boxed future, so credential sources can be used as trait objects.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A key pair, with the session token when the keys are temporary. Every part is a
/// [`Secret`]: masked as soon as it exists and never shown by `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    secret_id: Secret,
    secret_key: Secret,
    token: Option<Secret>,
}

impl Credentials {
    /// Long-term keys.
    pub fn new(secret_id: Secret, secret_key: Secret) -> Self {
        Credentials {
            secret_id,
            secret_key,
            token: None,
        }
    }

    /// Temporary keys: every call also sends `X-TC-Token: <token>`.
    pub fn temporary(secret_id: Secret, secret_key: Secret, token: Secret) -> Self {
        Credentials {
            secret_id,
            secret_key,
            token: Some(token),
        }
    }

    /// Keys from `TENCENTCLOUD_SECRET_ID`, `TENCENTCLOUD_SECRET_KEY` and, when set,
    /// `TENCENTCLOUD_SESSION_TOKEN` (the names tccli and the SDKs read). `None` when either key
    /// is unset or empty.
    pub fn from_env() -> Option<Self> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let id = var("TENCENTCLOUD_SECRET_ID")?;
        let key = var("TENCENTCLOUD_SECRET_KEY")?;
        let credentials = Credentials::new(Secret::new(id), Secret::new(key));
        Some(match var("TENCENTCLOUD_SESSION_TOKEN") {
            Some(token) => credentials.with_token(Secret::new(token)),
            None => credentials,
        })
    }

    pub fn with_token(mut self, token: Secret) -> Self {
        self.token = Some(token);
        self
    }

    pub fn secret_id(&self) -> &Secret {
        &self.secret_id
    }

    pub fn secret_key(&self) -> &Secret {
        &self.secret_key
    }

    pub fn token(&self) -> Option<&Secret> {
        self.token.as_ref()
    }

    /// The view the signer takes.
    pub fn signing_key(&self) -> SigningKey<'_> {
        SigningKey {
            secret_id: self.secret_id.expose(),
            secret_key: self.secret_key.expose(),
            token: self.token.as_ref().map(Secret::expose),
        }
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("secret_id", &self.secret_id)
            .field("secret_key", &self.secret_key)
            .field("token", &self.token.as_ref().map(|_| "***"))
            .finish()
    }
}

/// Gives the credentials for the next attempt. The client asks before every attempt, so a
/// source that refreshes (temporary keys near their expiry) is always current.
pub trait CredentialSource: Send + Sync {
    fn credentials(&self) -> BoxFuture<'_, Result<Credentials, ClientError>>;

    /// The cloud said the token is invalid or expired (`AuthFailure.TokenFailure`): the next
    /// [`credentials`](Self::credentials) must not hand out the same ones.
    fn invalidate(&self) {}
}

impl CredentialSource for Credentials {
    fn credentials(&self) -> BoxFuture<'_, Result<Credentials, ClientError>> {
        let credentials = self.clone();
        Box::pin(async move { Ok(credentials) })
    }
}

/// No credentials at all: for a client that only makes unsigned calls
/// (sts:AssumeRoleWithWebIdentity).
#[derive(Debug, Clone, Copy, Default)]
pub struct Anonymous;

impl CredentialSource for Anonymous {
    fn credentials(&self) -> BoxFuture<'_, Result<Credentials, ClientError>> {
        Box::pin(async {
            Err(ClientError::Credentials(
                "this client has no credentials; only unsigned calls can be made with it"
                    .to_string(),
            ))
        })
    }
}

/// Temporary credentials with their expiry, as a refreshing source caches them.
#[derive(Debug, Clone)]
pub struct Expiring {
    pub credentials: Credentials,
    /// Unix seconds.
    pub expires_at: i64,
}

/// A source that fetches temporary credentials with `fetch` and reuses them until
/// `refresh_before` seconds before they expire (or until the cloud rejects the token).
pub struct Refreshing<F> {
    fetch: F,
    refresh_before: i64,
    cached: Mutex<Option<Expiring>>,
}

impl<F> Refreshing<F>
where
    F: Fn() -> BoxFuture<'static, Result<Expiring, ClientError>> + Send + Sync,
{
    pub fn new(fetch: F) -> Self {
        Refreshing {
            fetch,
            refresh_before: 300,
            cached: Mutex::new(None),
        }
    }

    /// How long before expiry the credentials are replaced (default 5 minutes).
    pub fn refresh_before(mut self, seconds: i64) -> Self {
        self.refresh_before = seconds;
        self
    }

    fn cached_valid(&self, now: i64) -> Option<Credentials> {
        let cached = self.cached.lock().unwrap_or_else(|e| e.into_inner());
        cached
            .as_ref()
            .filter(|c| c.expires_at - self.refresh_before > now)
            .map(|c| c.credentials.clone())
    }
}

impl<F> CredentialSource for Refreshing<F>
where
    F: Fn() -> BoxFuture<'static, Result<Expiring, ClientError>> + Send + Sync,
{
    fn credentials(&self) -> BoxFuture<'_, Result<Credentials, ClientError>> {
        Box::pin(async move {
            let now = chrono::Utc::now().timestamp();
            if let Some(credentials) = self.cached_valid(now) {
                return Ok(credentials);
            }
            let fresh = (self.fetch)().await?;
            let credentials = fresh.credentials.clone();
            *self.cached.lock().unwrap_or_else(|e| e.into_inner()) = Some(fresh);
            Ok(credentials)
        })
    }

    fn invalidate(&self) {
        *self.cached.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn temp(n: u32, expires_at: i64) -> Expiring {
        Expiring {
            credentials: Credentials::temporary(
                Secret::new(format!("tmp-id-{n}")),
                Secret::new(format!("tmp-key-{n}")),
                Secret::new(format!("tmp-token-{n}")),
            ),
            expires_at,
        }
    }

    #[test]
    fn debug_shows_no_secret() {
        let c = Credentials::temporary(
            Secret::new("AKID-debug"),
            Secret::new("debug-key"),
            Secret::new("debug-token"),
        );
        let shown = format!("{c:?}");
        assert!(
            !shown.contains("debug-key") && !shown.contains("debug-token"),
            "{shown}"
        );
        assert!(!shown.contains("AKID-debug"), "{shown}");
    }

    #[tokio::test]
    async fn refreshing_reuses_until_near_expiry_or_invalidated() {
        let calls = Arc::new(AtomicU32::new(0));
        let counter = calls.clone();
        let source = Refreshing::new(move || {
            let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
            Box::pin(async move { Ok(temp(n, chrono::Utc::now().timestamp() + 3600)) })
                as BoxFuture<'static, _>
        });
        let first = source.credentials().await.unwrap();
        let again = source.credentials().await.unwrap();
        assert_eq!(first, again);
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        source.invalidate();
        let fresh = source.credentials().await.unwrap();
        assert_ne!(fresh, first);
        assert_eq!(calls.load(Ordering::SeqCst), 2);

        // Credentials that expire within the refresh margin are fetched anew every time.
        let near = Refreshing::new(|| {
            Box::pin(async { Ok(temp(9, chrono::Utc::now().timestamp() + 60)) })
                as BoxFuture<'static, _>
        });
        near.credentials().await.unwrap();
        assert!(near.cached_valid(chrono::Utc::now().timestamp()).is_none());
    }
}

/// The role a keyless job assumes with its OIDC token (sts:AssumeRoleWithWebIdentity).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebIdentityRole {
    /// The CAM OIDC identity provider's name.
    pub provider_id: String,
    /// `qcs::cam::uin/<uin>:roleName/<name>`.
    pub role_arn: String,
    pub role_session_name: String,
    /// Lifetime of the keys (sts default 7200, at most 43200).
    pub duration_seconds: Option<i64>,
}

/// Keyless credentials: `oidc_token` fetches a fresh OIDC token (GitHub's ID token for the
/// job), which `sts` (a client that may have no credentials: the call is unsigned) exchanges
/// for temporary keys, again whenever they near expiry or the cloud rejects their token.
pub fn web_identity<T>(
    sts: super::Client,
    role: WebIdentityRole,
    oidc_token: T,
) -> Refreshing<impl Fn() -> BoxFuture<'static, Result<Expiring, ClientError>> + Send + Sync>
where
    T: Fn() -> BoxFuture<'static, Result<String, ClientError>> + Send + Sync + 'static,
{
    let oidc_token = std::sync::Arc::new(oidc_token);
    Refreshing::new(move || {
        let (sts, role, oidc_token) = (sts.clone(), role.clone(), oidc_token.clone());
        Box::pin(async move {
            let token = oidc_token().await?;
            let request = super::models::sts::AssumeRoleWithWebIdentityRequest {
                provider_id: role.provider_id,
                web_identity_token: token.into(),
                role_arn: role.role_arn,
                role_session_name: role.role_session_name,
                duration_seconds: role.duration_seconds,
            };
            let response = sts.assume_role_with_web_identity(&request).await?;
            let keys = response.credentials;
            if keys.tmp_secret_id.is_empty() || keys.tmp_secret_key.expose().is_empty() {
                return Err(ClientError::Credentials(
                    "sts:AssumeRoleWithWebIdentity returned no keys".to_string(),
                ));
            }
            Ok(Expiring {
                credentials: Credentials::temporary(
                    Secret::new(keys.tmp_secret_id),
                    Secret::new(keys.tmp_secret_key.expose()),
                    Secret::new(keys.token.expose()),
                ),
                expires_at: i64::try_from(response.expired_time).unwrap_or(i64::MAX),
            }) as Result<Expiring, ClientError>
        }) as BoxFuture<'static, _>
    })
}
