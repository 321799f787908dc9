//! [`RedisStore`]: the replay guard's store shared by every instance of a service (feature
//! `redis`).

use std::time::Duration;

use ::redis::aio::{ConnectionManager, ConnectionManagerConfig};
use ::redis::{Client, RedisError, Value};

use super::replay::{MAX_TTL, Recorded, ReplayKey, ReplayStore, StoreError, StoreFuture};

/// A [`ReplayStore`] in Redis: every instance of a service that uses the same Redis (and the
/// same database) shares one guard, so a delivery accepted by one is a replay for all.
///
/// Each delivery costs one round trip: `SET <key> 1 NX PX <ttl in ms>` (and, for a GitHub
/// delivery, which has two keys, both `SET`s in one `MULTI`/`EXEC`). Redis expires the keys
/// itself. An answer that does not come within the [timeout](Self::with_timeout) (default one
/// second: Redis down, restarting, or too slow) is a [`StoreProblem::Unreachable`], which the
/// guard turns into a refusal unless it [fails open](super::ReplayGuard::fail_open); the
/// [`ConnectionManager`] reconnects in the background, and deliveries are judged again once it
/// has.
///
/// What Redis must be for the guard to hold:
/// - **Not evicting these keys early.** With a `maxmemory` limit, use `maxmemory-policy
///   noeviction` or a `volatile-*` policy that other keys will satisfy first; `allkeys-*`
///   policies may drop a key before its delivery's window ends, and its replay is accepted.
/// - **Persistent, or the risk accepted.** A Redis restarted without persistence (`save ""`,
///   no AOF) forgets the keys: a delivery accepted just before can be replayed once just
///   after, within its window.
/// - **One database per set of senders whose ids may collide.** Keys are
///   `clay-config:webhook:<scheme>:…` (see [`ReplayKey`]); two services receiving from
///   different Standard Webhooks senders that number their ids `1`, `2`, … should use
///   different databases (`redis://host/1`).
///
/// Needs a tokio runtime with timers (`#[tokio::main]` has them), as the `redis` crate does.
///
/// [`StoreProblem::Unreachable`]: super::StoreProblem::Unreachable
///
/// ```no_run
/// use clay_config::WebhookSecret;
/// use clay_config::webhook::{RedisStore, ReplayGuard, Scheme, WebhookVerifier};
///
/// # async fn start() -> Result<(), Box<dyn std::error::Error>> {
/// let store = RedisStore::connect("redis://127.0.0.1:6379/").await?;
/// let verifier = WebhookVerifier::new(Scheme::StandardWebhooks, WebhookSecret::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"))
///     .with_replay_guard(ReplayGuard::new(store));
/// # let (headers, body) = (http::HeaderMap::new(), b"");
/// verifier.verify_async(&headers, body).await?;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct RedisStore {
    connection: ConnectionManager,
    timeout: Duration,
}

impl RedisStore {
    /// How long [`RedisStore::new`] and [`RedisStore::connect`] wait for an answer.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1);

    /// A store on an existing connection manager (cheap to clone: share yours).
    pub fn new(connection: ConnectionManager) -> RedisStore {
        RedisStore {
            connection,
            timeout: RedisStore::DEFAULT_TIMEOUT,
        }
    }

    /// Connects to the Redis at `url` (`redis://[:password@]host[:port][/db]`, or `rediss://`
    /// where the `redis` crate's TLS feature is on) and fails when it cannot, so a receiver
    /// started without its guard says so at start-up. Reconnection afterwards is attempted
    /// with backoff up to one second apart, each attempt bounded by the timeout.
    pub async fn connect(url: &str) -> Result<RedisStore, RedisError> {
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(RedisStore::DEFAULT_TIMEOUT))
            .set_response_timeout(Some(RedisStore::DEFAULT_TIMEOUT))
            .set_max_delay(Duration::from_secs(1))
            .set_number_of_retries(3);
        let connection = Client::open(url)?
            .get_connection_manager_with_config(config)
            .await?;
        Ok(RedisStore::new(connection))
    }

    /// How long to wait for Redis before the delivery is refused unjudged (or, failing open,
    /// accepted): the whole wait, reconnection included.
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> RedisStore {
        self.timeout = timeout;
        self
    }

    async fn set_if_absent(
        &self,
        keys: &[ReplayKey],
        ttl: Duration,
    ) -> Result<Recorded, RedisError> {
        let millis = u64::try_from(ttl.min(MAX_TTL).as_millis())
            .unwrap_or(u64::MAX)
            .max(1);
        let mut connection = self.connection.clone();
        let answers: Vec<Value> = match keys {
            [key] => vec![
                ::redis::cmd("SET")
                    .arg(key.to_string())
                    .arg(1)
                    .arg("NX")
                    .arg("PX")
                    .arg(millis)
                    .query_async(&mut connection)
                    .await?,
            ],
            keys => {
                let mut pipe = ::redis::pipe();
                pipe.atomic();
                for key in keys {
                    pipe.cmd("SET")
                        .arg(key.to_string())
                        .arg(1)
                        .arg("NX")
                        .arg("PX")
                        .arg(millis);
                }
                pipe.query_async(&mut connection).await?
            }
        };
        let mut seen = false;
        for answer in answers {
            match answer {
                Value::Okay => {}
                Value::SimpleString(text) if text == "OK" => {}
                Value::Nil => seen = true,
                _ => {
                    return Err(RedisError::from((
                        ::redis::ErrorKind::Client,
                        "unexpected answer to SET NX PX",
                    )));
                }
            }
        }
        Ok(if seen { Recorded::Seen } else { Recorded::New })
    }
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The connection's details (the URL may hold a password) stay out.
        f.debug_struct("RedisStore")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl ReplayStore for RedisStore {
    fn name(&self) -> &'static str {
        "redis"
    }

    fn record<'a>(&'a self, keys: &'a [ReplayKey], ttl: Duration) -> StoreFuture<'a> {
        Box::pin(async move {
            match tokio::time::timeout(self.timeout, self.set_if_absent(keys, ttl)).await {
                Ok(Ok(recorded)) => Ok(recorded),
                Ok(Err(error)) => Err(StoreError::unreachable(error)),
                Err(_) => Err(StoreError::unreachable(format!(
                    "no answer within {} ms",
                    self.timeout.as_millis()
                ))),
            }
        })
    }
}
