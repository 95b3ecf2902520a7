//! The credential server on this machine: the laptop half of `--forward`.
//!
//! It listens on a unix socket in ssso's private directory (0700; the session's ssh connects
//! to it for every forwarded request, and a peer of another uid is dropped). Each connection
//! carries one HTTP `GET` ([`super::http`]); a request without the session's secret in its
//! `Authorization` header gets a 401 and nothing else, whatever it asks for. Then:
//!
//! - `GET /role-credentials`: the container-credentials JSON that botocore's
//!   `ContainerProvider`, the Go, Java, JS and Rust SDKs read from
//!   `AWS_CONTAINER_CREDENTIALS_FULL_URI`: `{"Code": "Success", "Type": "AWS-HMAC",
//!   "AccessKeyId", "SecretAccessKey", "Token", "Expiration" (RFC 3339, UTC), "AccountId"}`;
//! - `GET /credential-process`: the same credentials as `credential_process` prints them:
//!   `{"Version": 1, "AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration",
//!   "AccountId"}` (what the host's helper asks for);
//! - an error: `{"Code", "Message"}` with a 4xx/5xx status, the message saying what to do.
//!
//! The credentials come from a [`Source`] (on the connect path: SSO `GetRoleCredentials` with
//! the local token) and are cached: a cached set is handed out while more than
//! [`refresh_margin`] of it is left (15 minutes, botocore's advisory refresh window, or a
//! quarter of the set's lifetime when that is shorter), so a one-hour set costs one call per
//! 45 minutes. One fetch at a time: every request that arrives while a fetch runs waits for
//! it and gets its result. A failed fetch is remembered for [`FAILURE_HOLD`], so a burst of
//! requests costs one failed call, not one each.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};

use super::Secret;
use super::http::{self, Parsed};
use crate::aws::portal::RoleCredentials;
use crate::time;

/// A cached set is replaced once less than this is left (botocore's advisory refresh window).
pub const REFRESH_BEFORE: i64 = 15 * 60;
/// How long a failed fetch is answered from memory before the next attempt.
pub const FAILURE_HOLD: Duration = Duration::from_secs(2);
/// How long a client may take to send its request head.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// How long requests wait for one fetch.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(30);
/// Connections served at once; more wait in the listen queue.
pub const MAX_CONNECTIONS: usize = 256;

/// Why there are no credentials: sent to the host as `{"Code", "Message"}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// HTTP status for the answer (503 when this machine cannot get credentials, 502 when
    /// IAM Identity Center refused, 504 on a timeout).
    pub status: u16,
    /// A short machine-readable code, e.g. `SsoLoginRequired`.
    pub code: &'static str,
    /// What failed and what to do, for the person at the host; no secrets, no quotes.
    pub message: String,
}

/// Where the credentials come from. `fetch` blocks (it runs on a blocking thread) and is
/// never called twice at once by one [`Server`].
pub trait Source: Send + Sync + 'static {
    fn fetch(&self) -> Result<RoleCredentials, Failure>;
}

/// Counters, for `ssso status` and the tests.
#[derive(Debug, Default)]
pub struct Stats {
    /// Requests answered with credentials.
    pub served: AtomicU64,
    /// Requests refused for a missing or wrong secret.
    pub unauthorized: AtomicU64,
    /// Calls to the [`Source`].
    pub fetches: AtomicU64,
    /// Requests answered with an error (bad request, no credentials).
    pub failed: AtomicU64,
}

#[derive(Default)]
struct Cache {
    /// The credentials and when they were fetched (Unix seconds).
    current: Option<(RoleCredentials, i64)>,
    failure: Option<(Instant, Failure)>,
}

/// The credential server for one session.
pub struct Server {
    secret: Secret,
    account_id: Option<String>,
    source: Arc<dyn Source>,
    cache: tokio::sync::Mutex<Cache>,
    request_timeout: Duration,
    pub stats: Stats,
}

/// How long before its expiry a set fetched at `fetched` is replaced: [`REFRESH_BEFORE`], or a
/// quarter of its lifetime when that is shorter (short test lifetimes still cache).
pub fn refresh_margin(expiration: i64, fetched: i64) -> i64 {
    REFRESH_BEFORE.min((expiration - fetched).max(0) / 4)
}

/// Whether a set fetched at `fetched` may still be handed out at `now`.
pub fn usable(c: &RoleCredentials, fetched: i64, now: i64) -> bool {
    c.expiration - now > refresh_margin(c.expiration, fetched)
}

impl Server {
    pub fn new(secret: Secret, account_id: Option<String>, source: Arc<dyn Source>) -> Server {
        Server {
            secret,
            account_id,
            source,
            cache: tokio::sync::Mutex::new(Cache::default()),
            request_timeout: REQUEST_TIMEOUT,
            stats: Stats::default(),
        }
    }

    /// The credentials to hand out now: the cached set, or one fetch (single-flight).
    pub async fn credentials(&self) -> Result<RoleCredentials, Failure> {
        // Whoever holds the lock is the one fetching; everyone else waits for its result.
        let mut cache = self.cache.lock().await;
        let now = time::now();
        if let Some((c, fetched)) = &cache.current
            && usable(c, *fetched, now)
        {
            return Ok(c.clone());
        }
        if let Some((at, f)) = &cache.failure
            && at.elapsed() < FAILURE_HOLD
        {
            return Err(f.clone());
        }
        self.stats.fetches.fetch_add(1, Ordering::Relaxed);
        let source = self.source.clone();
        let fetched = tokio::time::timeout(
            FETCH_TIMEOUT,
            tokio::task::spawn_blocking(move || source.fetch()),
        )
        .await;
        let result = match fetched {
            Ok(Ok(r)) => r,
            Ok(Err(e)) => Err(Failure {
                status: 500,
                code: "InternalError",
                message: format!("ssso's credential fetch failed: {e}"),
            }),
            Err(_) => Err(Failure {
                status: 504,
                code: "Timeout",
                message: format!(
                    "no answer from IAM Identity Center within {}s",
                    FETCH_TIMEOUT.as_secs()
                ),
            }),
        };
        match result {
            Ok(c) => {
                cache.current = Some((c.clone(), now));
                cache.failure = None;
                Ok(c)
            }
            Err(f) => {
                cache.failure = Some((Instant::now(), f.clone()));
                Err(f)
            }
        }
    }

    /// Until when the cached set is valid, if there is one (for `ssso status`).
    pub async fn cached_expiration(&self) -> Option<i64> {
        self.cache
            .lock()
            .await
            .current
            .as_ref()
            .map(|(c, _)| c.expiration)
    }

    fn container_json(&self, c: &RoleCredentials) -> serde_json::Value {
        let mut v = serde_json::json!({
            "Code": "Success",
            "Type": "AWS-HMAC",
            "AccessKeyId": c.access_key_id,
            "SecretAccessKey": c.secret_access_key,
            "Token": c.session_token,
            "Expiration": time::format_timestamp(c.expiration),
        });
        if let Some(a) = &self.account_id {
            v["AccountId"] = a.clone().into();
        }
        v
    }

    fn process_json(&self, c: &RoleCredentials) -> serde_json::Value {
        let mut v = serde_json::json!({
            "Version": 1,
            "AccessKeyId": c.access_key_id,
            "SecretAccessKey": c.secret_access_key,
            "SessionToken": c.session_token,
            "Expiration": time::format_timestamp(c.expiration),
        });
        if let Some(a) = &self.account_id {
            v["AccountId"] = a.clone().into();
        }
        v
    }

    fn error(&self, status: u16, code: &str, message: &str) -> Vec<u8> {
        self.stats.failed.fetch_add(1, Ordering::Relaxed);
        let body = serde_json::json!({"Code": code, "Message": message}).to_string();
        http::response(status, body.as_bytes())
    }

    /// The answer to one parsed request.
    async fn respond(&self, req: &http::Request) -> Vec<u8> {
        // The secret first: without it, nothing about the server is revealed.
        if !req
            .authorization
            .as_deref()
            .is_some_and(|a| self.secret.matches(a))
        {
            self.stats.unauthorized.fetch_add(1, Ordering::Relaxed);
            let body = serde_json::json!({
                "Code": "Unauthorized",
                "Message": "this request does not carry the ssso session's secret",
            })
            .to_string();
            return http::response(401, body.as_bytes());
        }
        if req.method != "GET" {
            return self.error(405, "MethodNotAllowed", "only GET is served here");
        }
        let process = match req.path.as_str() {
            "/role-credentials" => false,
            "/credential-process" => true,
            _ => {
                return self.error(
                    404,
                    "NotFound",
                    "ssso serves /role-credentials and /credential-process",
                );
            }
        };
        match self.credentials().await {
            Ok(c) => {
                self.stats.served.fetch_add(1, Ordering::Relaxed);
                let v = if process {
                    self.process_json(&c)
                } else {
                    self.container_json(&c)
                };
                http::response(200, v.to_string().as_bytes())
            }
            Err(f) => self.error(f.status, f.code, &f.message),
        }
    }

    /// Serves one connection: reads one request head (bounded in size and time), answers it,
    /// closes.
    pub async fn handle<S: AsyncRead + AsyncWrite + Unpin>(&self, mut stream: S) {
        let mut buf = Vec::with_capacity(1024);
        let read = async {
            let mut chunk = [0u8; 2048];
            loop {
                match http::parse(&buf) {
                    Ok(Parsed::Complete(r)) => return Ok(r),
                    Err(e) => return Err(e),
                    Ok(Parsed::Incomplete) => {}
                }
                match stream.read(&mut chunk).await {
                    Ok(0) | Err(_) => return Err(http::BadRequest("incomplete request")),
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
            }
        };
        let answer = match tokio::time::timeout(self.request_timeout, read).await {
            Err(_) => return,
            Ok(Err(http::BadRequest("incomplete request"))) => return,
            Ok(Err(http::BadRequest(why))) => self.error(400, "BadRequest", why),
            Ok(Ok(req)) => self.respond(&req).await,
        };
        let _ = stream.write_all(&answer).await;
        let _ = stream.shutdown().await;
    }

    /// Accepts connections on `listener` until dropped; peers of another uid are dropped
    /// unanswered.
    pub async fn serve(self: Arc<Self>, listener: tokio::net::UnixListener) {
        let uid = unsafe { libc::getuid() };
        let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
        loop {
            let Ok(permit) = slots.clone().acquire_owned().await else {
                return;
            };
            let stream = match listener.accept().await {
                Ok((s, _)) => s,
                Err(_) => {
                    // EMFILE and the like: let the moment pass instead of spinning.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            if !stream.peer_cred().is_ok_and(|c| c.uid() == uid) {
                continue;
            }
            let me = self.clone();
            tokio::spawn(async move {
                me.handle(stream).await;
                drop(permit);
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// A source that counts its calls, takes `delay` and answers what `answer` says.
    struct Fake {
        calls: AtomicU64,
        delay: Duration,
        lifetime: i64,
        fail: Mutex<Option<Failure>>,
    }

    impl Fake {
        fn new(delay_ms: u64, lifetime: i64) -> Arc<Fake> {
            Arc::new(Fake {
                calls: AtomicU64::new(0),
                delay: Duration::from_millis(delay_ms),
                lifetime,
                fail: Mutex::new(None),
            })
        }
    }

    impl Source for Fake {
        fn fetch(&self) -> Result<RoleCredentials, Failure> {
            let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
            std::thread::sleep(self.delay);
            if let Some(f) = self.fail.lock().unwrap().clone() {
                return Err(f);
            }
            Ok(RoleCredentials {
                access_key_id: format!("ASIA{n}"),
                secret_access_key: "SECRET-KEY".into(),
                session_token: "SESSION-TOKEN".into(),
                expiration: time::now() + self.lifetime,
            })
        }
    }

    const SECRET: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn server(fake: &Arc<Fake>) -> Arc<Server> {
        Arc::new(Server::new(
            Secret::from_test(SECRET),
            Some("123456789012".into()),
            fake.clone(),
        ))
    }

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    /// Sends `request` through an in-memory pipe; returns (status, body).
    async fn ask(s: &Server, request: &str) -> (u16, serde_json::Value) {
        let (mut client, server_end) = tokio::io::duplex(64 * 1024);
        let serve = s.handle(server_end);
        let talk = async {
            client.write_all(request.as_bytes()).await.unwrap();
            let mut out = Vec::new();
            client.read_to_end(&mut out).await.unwrap();
            out
        };
        let ((), out) = tokio::join!(serve, talk);
        let text = String::from_utf8(out).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        let head = format!("{head}\r\n");
        let status = head[9..12].parse().unwrap();
        assert!(head.contains("\r\nConnection: close\r\n"), "{head}");
        assert!(
            head.contains(&format!("\r\nContent-Length: {}\r\n", body.len())),
            "{head}"
        );
        (status, serde_json::from_str(body).unwrap())
    }

    fn get(path: &str, auth: Option<&str>) -> String {
        let auth = auth
            .map(|a| format!("Authorization: {a}\r\n"))
            .unwrap_or_default();
        format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n{auth}\r\n")
    }

    #[test]
    fn answers_in_both_shapes_with_the_secret_only() {
        let fake = Fake::new(0, 3600);
        let s = server(&fake);
        rt().block_on(async {
            let (st, v) = ask(&s, &get("/role-credentials", Some(SECRET))).await;
            assert_eq!(st, 200);
            assert_eq!(v["Code"], "Success");
            assert_eq!(v["AccessKeyId"], "ASIA1");
            assert_eq!(v["SecretAccessKey"], "SECRET-KEY");
            assert_eq!(v["Token"], "SESSION-TOKEN");
            assert_eq!(v["AccountId"], "123456789012");
            let exp = time::parse_timestamp(v["Expiration"].as_str().unwrap()).unwrap();
            assert!(exp > time::now() + 3500);
            let (st, v) = ask(&s, &get("/credential-process", Some(SECRET))).await;
            assert_eq!(st, 200);
            assert_eq!(v["Version"], 1);
            assert_eq!(v["SessionToken"], "SESSION-TOKEN");
            assert_eq!(v["AccessKeyId"], "ASIA1", "cached");

            // No secret, a wrong one, one of the wrong length, two: nothing but a 401, for
            // any path and method.
            let wrong = SECRET.replace('0', "1");
            for req in [
                get("/role-credentials", None),
                get("/role-credentials", Some(&wrong)),
                get("/role-credentials", Some(&SECRET[1..])),
                get("/role-credentials", Some(&format!("{SECRET} x"))),
                get("/nowhere", None),
                "POST /role-credentials HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n".into(),
            ] {
                let (st, v) = ask(&s, &req).await;
                assert_eq!(st, 401, "{req}");
                assert!(v.get("AccessKeyId").is_none());
            }
            assert_eq!(s.stats.unauthorized.load(Ordering::Relaxed), 6);
            let (st, _) = ask(&s, &get("/nowhere", Some(SECRET))).await;
            assert_eq!(st, 404);
            let (st, _) = ask(
                &s,
                &format!("DELETE /role-credentials HTTP/1.1\r\nHost: x\r\nAuthorization: {SECRET}\r\n\r\n"),
            )
            .await;
            assert_eq!(st, 405);
            let (st, v) = ask(&s, "GET /role-credentials HTTP/1.1\r\nAuthorization: x\r\n\r\n").await;
            assert_eq!((st, v["Code"].as_str()), (400, Some("BadRequest")));
        });
        assert_eq!(fake.calls.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn cache_policy() {
        let c = |exp| RoleCredentials {
            access_key_id: String::new(),
            secret_access_key: String::new(),
            session_token: String::new(),
            expiration: exp,
        };
        // One hour: replaced with 15 minutes left.
        assert!(usable(&c(3600), 0, 2699));
        assert!(!usable(&c(3600), 0, 2700));
        // Twelve hours: still 15 minutes.
        assert_eq!(refresh_margin(43_200, 0), 900);
        // Two minutes: a quarter, 30 s.
        assert!(usable(&c(1120), 1000, 1089));
        assert!(!usable(&c(1120), 1000, 1090));
        // Expired, or fetched already expired: never.
        assert!(!usable(&c(100), 200, 150));
        assert!(!usable(&c(100), 0, 100));
    }

    /// Many concurrent requests, one fetch; a set near its end is replaced by one fetch.
    #[test]
    fn single_flight_over_a_real_socket() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s");
        let fake = Fake::new(300, 8);
        let s = server(&fake);
        rt().block_on(async {
            let listener = tokio::net::UnixListener::bind(&path).unwrap();
            let serving = tokio::spawn(s.clone().serve(listener));
            let burst = |n: usize| {
                let path = path.clone();
                async move {
                    let mut tasks = Vec::new();
                    for _ in 0..n {
                        let path = path.clone();
                        tasks.push(tokio::spawn(async move {
                            let mut c = tokio::net::UnixStream::connect(&path).await.unwrap();
                            c.write_all(get("/credential-process", Some(SECRET)).as_bytes())
                                .await
                                .unwrap();
                            let mut out = String::new();
                            c.read_to_string(&mut out).await.unwrap();
                            out
                        }));
                    }
                    let mut keys = std::collections::BTreeSet::new();
                    for t in tasks {
                        let out = t.await.unwrap();
                        assert!(out.starts_with("HTTP/1.1 200 OK\r\n"), "{out}");
                        let v: serde_json::Value =
                            serde_json::from_str(out.split_once("\r\n\r\n").unwrap().1).unwrap();
                        keys.insert(v["AccessKeyId"].as_str().unwrap().to_owned());
                    }
                    keys
                }
            };
            assert_eq!(burst(300).await.into_iter().collect::<Vec<_>>(), ["ASIA1"]);
            assert_eq!(fake.calls.load(Ordering::SeqCst), 1);
            // An 8 s set is replaced with 2 s left: after 6.5 s, the next burst fetches once.
            tokio::time::sleep(Duration::from_millis(6500)).await;
            assert_eq!(burst(50).await.into_iter().collect::<Vec<_>>(), ["ASIA2"]);
            assert_eq!(fake.calls.load(Ordering::SeqCst), 2);
            assert_eq!(s.stats.served.load(Ordering::Relaxed), 350);
            serving.abort();
        });
    }

    /// A failure is answered with its message; a burst costs one fetch; after
    /// [`FAILURE_HOLD`] the next request tries again.
    #[test]
    fn failures_are_held_briefly() {
        let fake = Fake::new(0, 3600);
        *fake.fail.lock().unwrap() = Some(Failure {
            status: 503,
            code: "SsoLoginRequired",
            message: "log in on your machine".into(),
        });
        let s = server(&fake);
        rt().block_on(async {
            for _ in 0..5 {
                let (st, v) = ask(&s, &get("/credential-process", Some(SECRET))).await;
                assert_eq!(st, 503);
                assert_eq!(v["Code"], "SsoLoginRequired");
                assert_eq!(v["Message"], "log in on your machine");
            }
            assert_eq!(fake.calls.load(Ordering::SeqCst), 1);
            *fake.fail.lock().unwrap() = None;
            tokio::time::sleep(FAILURE_HOLD + Duration::from_millis(100)).await;
            let (st, _) = ask(&s, &get("/credential-process", Some(SECRET))).await;
            assert_eq!(st, 200);
        });
        assert_eq!(fake.calls.load(Ordering::SeqCst), 2);
    }

    /// A client that never finishes its head is dropped; one that sends garbage gets a 400.
    #[test]
    fn slow_and_broken_clients() {
        let fake = Fake::new(0, 3600);
        let mut s = Server::new(Secret::from_test(SECRET), None, fake.clone());
        s.request_timeout = Duration::from_millis(200);
        rt().block_on(async {
            let (st, _) = ask(&s, "hello\n\n").await;
            assert_eq!(st, 400);
            // Half a head, then silence: dropped after the timeout, unanswered.
            let (mut client, end) = tokio::io::duplex(1024);
            client.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();
            let serve = s.handle(end);
            let read = async {
                let mut out = Vec::new();
                client.read_to_end(&mut out).await.unwrap();
                out
            };
            let ((), out) = tokio::join!(serve, read);
            assert!(out.is_empty());
            // Half a head, then EOF: dropped at once.
            let (mut client, end) = tokio::io::duplex(1024);
            client.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();
            client.shutdown().await.unwrap();
            let mut out = Vec::new();
            let ((), _) = tokio::join!(s.handle(end), client.read_to_end(&mut out));
            assert!(out.is_empty());
        });
        assert_eq!(fake.calls.load(Ordering::SeqCst), 0);
    }
}
