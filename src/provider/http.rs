//! What the three clients share on the wire: the endpoint (base URL and key), one
//! exchange with a bounded body, and the reading of transport failures and
//! `Retry-After`.

use std::fmt;
use std::time::Duration;

use reqwest::header::HeaderMap;

use super::{ErrorClass, ProviderError, REQUEST_TIMEOUT};
use crate::catalog::Provider;

/// An API key, held as a `secrecy` secret (wiped from memory when dropped). Its
/// `Debug` and `Display` never show it, so it cannot leak into a log line, an error
/// or the journal by accident.
#[derive(Clone)]
pub struct ApiKey(secrecy::SecretString);

impl ApiKey {
    pub fn new(key: impl Into<String>) -> Self {
        ApiKey(secrecy::SecretString::from(key.into()))
    }

    /// The key itself, only for building a request header (and scrubbing errors).
    pub fn expose(&self) -> &str {
        secrecy::ExposeSecret::expose_secret(&self.0)
    }
}

impl PartialEq for ApiKey {
    fn eq(&self, other: &ApiKey) -> bool {
        self.expose() == other.expose()
    }
}

impl Eq for ApiKey {}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(***)")
    }
}

impl fmt::Display for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Where a provider is and how to authenticate.
#[derive(Clone, Debug)]
pub struct Endpoint {
    /// Without a trailing slash: `https://api.runware.ai/v1`, `https://api.minimax.io`.
    pub base_url: String,
    pub key: ApiKey,
    pub http: reqwest::Client,
    /// Deadline of one submit or poll exchange.
    pub timeout: Duration,
}

impl Endpoint {
    pub fn new(base_url: impl Into<String>, key: ApiKey) -> Self {
        Endpoint {
            base_url: base_url.into().trim_end_matches('/').to_owned(),
            key,
            http: default_http_client(),
            timeout: REQUEST_TIMEOUT,
        }
    }

    pub fn with_http(mut self, http: reqwest::Client) -> Self {
        self.http = http;
        self
    }

    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

/// The HTTP client: short connect timeout, a read timeout that catches stalls, and
/// no total timeout (set per request; a download may take long).
pub fn default_http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .read_timeout(Duration::from_secs(60))
        .user_agent(concat!("shotlist/", env!("CARGO_PKG_VERSION")))
        .build()
        .expect("the HTTP client builds with static settings")
}

/// The largest answer body read from an API call; a larger one is refused unread
/// (a provider answer is a few KB; anything huge is a fault, not data).
pub const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// An HTTP answer: status, headers and the (bounded) body.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }

    pub fn text(&self) -> String {
        let s = String::from_utf8_lossy(&self.body);
        let mut t: String = s.chars().take(300).collect();
        if s.chars().count() > 300 {
            t.push('…');
        }
        t
    }
}

/// Which side of the exchange a transport failure is judged from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exchange {
    /// A submit: a failure after the body may have reached the provider is in doubt.
    Submit,
    /// A poll or a lookup: safe to repeat, so every transport failure is transient.
    Read,
}

/// Sends a request and reads the answer, mapping transport failures onto the
/// taxonomy. A connection that was never made proves nothing was sent.
pub async fn exchange(
    provider: Provider,
    kind: Exchange,
    request: reqwest::RequestBuilder,
) -> Result<Answer, ProviderError> {
    let response = request.send().await.map_err(|e| transport_error(provider, kind, &e))?;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    if response.content_length().is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        return Err(ProviderError::new(provider, body_class(kind), "the answer body is too large; refused unread")
            .status(status));
    }
    let mut body = Vec::new();
    let mut response = response;
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if body.len() + chunk.len() > MAX_BODY_BYTES {
                    return Err(ProviderError::new(
                        provider,
                        body_class(kind),
                        "the answer body is too large; refused",
                    )
                    .status(status));
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => break,
            Err(e) => return Err(transport_error(provider, kind, &e).status(status)),
        }
    }
    Ok(Answer { status, headers, body })
}

/// An unusable answer to a submit leaves its outcome unknown; to a read, it is transient.
fn body_class(kind: Exchange) -> ErrorClass {
    match kind {
        Exchange::Submit => ErrorClass::InDoubt,
        Exchange::Read => ErrorClass::Transient,
    }
}

fn transport_error(provider: Provider, kind: Exchange, e: &reqwest::Error) -> ProviderError {
    // reqwest's Display can include the URL; ours never carry the key (it travels
    // in a header), so the text is safe to keep.
    let what = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "the connection failed"
    };
    // reqwest flags `is_connect` only while a new connection is being set up (TCP,
    // TLS, proxy tunnel), before any request byte is written: a connect *timeout*
    // proves nothing was sent too. The request deadline elapsing is not a connect
    // error and stays in doubt for a submit.
    let class = if e.is_connect() { ErrorClass::Transient } else { body_class(kind) };
    ProviderError::new(provider, class, format!("{what}: {}", error_chain(e))).code("transport")
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(inner) = source {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        source = inner.source();
    }
    s
}

/// `Retry-After` as seconds or an HTTP date, if present and sane (at most an hour).
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?.trim();
    let wait = if let Ok(secs) = value.parse::<f64>() {
        (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs))?
    } else {
        let when = httpdate::parse_http_date(value).ok()?;
        when.duration_since(std::time::SystemTime::now()).unwrap_or_default()
    };
    (wait <= Duration::from_secs(3600)).then_some(wait)
}

/// Whether a URL from a provider may be fetched: absolute http or https with a host.
/// Anything else (`file:`, `data:`, a bare path) is refused, never followed.
pub fn is_http_url(url: &str) -> bool {
    reqwest::Url::parse(url).is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
}

/// A result URL that may be downloaded, or the task failure that refuses it.
pub fn video_url(provider: Provider, url: &str) -> Result<String, ProviderError> {
    if is_http_url(url) {
        return Ok(url.to_owned());
    }
    let shown: String = url.chars().take(80).collect();
    Err(ProviderError::new(provider, ErrorClass::Failed, format!("refused a result URL that is not http(s): {shown}")))
}

/// Removes the key from an error, in case a provider echoed it back in a body we
/// quote. Keys shorter than 4 characters are left alone (they would mangle text
/// and are not real keys).
pub fn scrub(key: &ApiKey, mut error: ProviderError) -> ProviderError {
    let secret = key.expose();
    if secret.len() >= 4 {
        let clean = |s: &mut String| {
            if s.contains(secret) {
                *s = s.replace(secret, "***");
            }
        };
        clean(&mut error.message);
        if let Some(code) = error.code.as_mut() {
            clean(code);
        }
        if let Some(trace) = error.trace_id.as_mut() {
            clean(trace);
        }
    }
    error
}

/// A non-empty string field of a JSON object; a number is rendered as its digits
/// (MiniMax sends `file_id` as either).
pub fn json_str(value: &serde_json::Value, key: &str) -> Option<String> {
    match value.get(key)? {
        serde_json::Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A number that may arrive as a JSON number or as a string of digits.
pub fn json_f64(value: &serde_json::Value, key: &str) -> Option<f64> {
    match value.get(key)? {
        serde_json::Value::Number(n) => n.as_f64(),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
    .filter(|v: &f64| v.is_finite())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_key_never_formats() {
        let key = ApiKey::new("sk-secret-123");
        assert_eq!(format!("{key:?} {key}"), "ApiKey(***) ***");
    }

    #[test]
    fn retry_after_reads_seconds_and_dates_and_ignores_nonsense() {
        let mut h = HeaderMap::new();
        h.insert("retry-after", "2".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(2)));
        h.insert("retry-after", "0.5".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_millis(500)));
        let soon = httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(30));
        h.insert("retry-after", soon.parse().unwrap());
        let d = retry_after(&h).unwrap();
        assert!(d <= Duration::from_secs(30) && d >= Duration::from_secs(28), "{d:?}");
        h.insert("retry-after", "soon".parse().unwrap());
        assert_eq!(retry_after(&h), None);
        h.insert("retry-after", "999999".parse().unwrap());
        assert_eq!(retry_after(&h), None);
    }

    #[tokio::test]
    async fn a_refused_connection_is_transient_but_a_stalled_submit_is_in_doubt() {
        let client = default_http_client();
        let refused = exchange(Provider::Minimax, Exchange::Submit, client.post("http://127.0.0.1:9/x")).await;
        assert_eq!(refused.unwrap_err().class, ErrorClass::Transient);
        // A server that takes the request and never answers.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (_socket, _) = listener.accept().await.unwrap();
            tokio::time::sleep(Duration::from_secs(30)).await;
        });
        let request = client.post(format!("http://{addr}/x")).body("{}").timeout(Duration::from_millis(200));
        let stalled = exchange(Provider::Minimax, Exchange::Submit, request).await;
        assert_eq!(stalled.unwrap_err().class, ErrorClass::InDoubt);
    }
}
