//! The package store on S3-compatible object storage (AWS S3, MinIO, SeaweedFS, Ceph RGW), for
//! clusters: every node reads what any node stored. A small client of four requests (PUT, HEAD,
//! ranged GET, and pre-signed GET URLs), signed with AWS Signature Version 4, path-style, so any
//! S3 implementation serves it. An object appears only once its PUT completed, so a package cut
//! off half-way is never offered.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::TryStreamExt;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use url::Url;

use crate::blob::{BlobError, BlobReader, BlobStore, check_name};

/// Where the bucket is and who may use it.
#[derive(Clone, PartialEq, Eq)]
pub struct S3Settings {
    /// `http(s)://host:port` of the S3 API.
    pub endpoint: Url,
    pub bucket: String,
    pub region: String,
    /// Object names start with this (`packages/` by default), so one bucket can hold more.
    pub prefix: String,
    pub access_key_id: String,
    pub secret_access_key: String,
}

impl std::fmt::Debug for S3Settings {
    /// The secret key never reaches logs.
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("S3Settings")
            .field("endpoint", &self.endpoint.as_str())
            .field("bucket", &self.bucket)
            .field("region", &self.region)
            .field("prefix", &self.prefix)
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum S3UrlError {
    #[error("the blob URL must look like s3://bucket?endpoint=http://host:port: {0}")]
    Malformed(String),
}

impl S3Settings {
    /// Reads `s3://bucket?endpoint=…&region=…&prefix=…`; the keys come from elsewhere (the
    /// environment), never from a URL that ends up in a config file or a process list.
    pub fn from_url(text: &str, access_key_id: &str, secret_access_key: &str) -> Result<Self, S3UrlError> {
        let malformed = |detail: &str| S3UrlError::Malformed(detail.to_owned());
        let url = Url::parse(text).map_err(|error| malformed(&error.to_string()))?;
        if url.scheme() != "s3" {
            return Err(malformed("the scheme is not s3"));
        }
        let bucket = url.host_str().filter(|bucket| !bucket.is_empty()).ok_or_else(|| malformed("no bucket"))?;
        let query: HashMap<String, String> = url.query_pairs().into_owned().collect();
        let endpoint = query.get("endpoint").ok_or_else(|| malformed("no endpoint"))?;
        let endpoint = Url::parse(endpoint).map_err(|error| malformed(&format!("endpoint: {error}")))?;
        if !matches!(endpoint.scheme(), "http" | "https") {
            return Err(malformed("the endpoint is not http or https"));
        }
        let prefix = query.get("prefix").map_or("packages/".to_owned(), |prefix| {
            if prefix.is_empty() || prefix.ends_with('/') { prefix.clone() } else { format!("{prefix}/") }
        });
        Ok(Self {
            endpoint,
            bucket: bucket.to_owned(),
            region: query.get("region").cloned().unwrap_or_else(|| "us-east-1".to_owned()),
            prefix,
            access_key_id: access_key_id.to_owned(),
            secret_access_key: secret_access_key.to_owned(),
        })
    }
}

/// Sizes kept in memory: blobs never change, so a size once read is true for ever.
const SIZE_CACHE_CAPACITY: usize = 100_000;

#[derive(Debug)]
pub struct S3BlobStore {
    settings: S3Settings,
    http: reqwest::Client,
    sizes: Mutex<HashMap<String, u64>>,
}

impl S3BlobStore {
    pub fn new(settings: S3Settings) -> Self {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .pool_idle_timeout(Duration::from_secs(60))
            .build()
            .expect("the S3 client builds with static settings");
        Self { settings, http, sizes: Mutex::default() }
    }

    /// Checks the bucket answers with these keys, creating it when it does not exist yet, so a
    /// node with a wrong endpoint or key refuses to start instead of failing its first upload.
    pub async fn check(&self) -> Result<(), BlobError> {
        let bucket = &self.settings.bucket;
        let response = self.send(reqwest::Method::HEAD, self.bucket_url(), EMPTY_SHA256, Bytes::new(), None).await?;
        match response.status() {
            status if status.is_success() => return Ok(()),
            reqwest::StatusCode::NOT_FOUND => {}
            status => return Err(remote_error("reach", bucket, &format!("the bucket answered {status}"))),
        }
        let created = self.send(reqwest::Method::PUT, self.bucket_url(), EMPTY_SHA256, Bytes::new(), None).await?;
        match created.status() {
            status if status.is_success() => {
                tracing::info!(%bucket, "created the object storage bucket");
                Ok(())
            }
            status => Err(remote_error("create", bucket, &format!("creating the bucket answered {status}"))),
        }
    }

    fn bucket_url(&self) -> Url {
        let mut url = self.settings.endpoint.clone();
        url.set_path(&format!("{}/", self.settings.bucket));
        url
    }

    fn object_url(&self, sha256: &str) -> Url {
        let mut url = self.settings.endpoint.clone();
        url.set_path(&format!("{}/{}{}/{sha256}", self.settings.bucket, self.settings.prefix, &sha256[..2]));
        url
    }

    async fn send(
        &self,
        method: reqwest::Method,
        url: Url,
        payload_sha256: &str,
        body: Bytes,
        range: Option<(u64, u64)>,
    ) -> Result<reqwest::Response, BlobError> {
        let now = std::time::SystemTime::now();
        let range = range.map(|(start, end)| format!("bytes={start}-{end}"));
        let signed = sign_request(&self.settings, method.as_str(), &url, payload_sha256, range.as_deref(), now);
        let mut request = self
            .http
            .request(method, url.clone())
            .header("x-amz-date", signed.amz_date)
            .header("x-amz-content-sha256", payload_sha256)
            .header("authorization", signed.authorization);
        if let Some(range) = range {
            request = request.header("range", range);
        }
        if !body.is_empty() {
            request = request.body(body);
        }
        request.send().await.map_err(|error| remote_error("reach", url.path(), &error.to_string()))
    }
}

/// The sha256 of no bytes, the payload hash of HEAD and GET.
const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

fn remote_error(action: &'static str, name: &str, detail: &str) -> BlobError {
    BlobError::Io { action, name: name.to_owned(), source: std::io::Error::other(format!("object storage: {detail}")) }
}

#[async_trait]
impl BlobStore for S3BlobStore {
    async fn put(&self, bytes: Bytes) -> Result<String, BlobError> {
        let sha256 = hex::encode(Sha256::digest(&bytes));
        if self.size(&sha256).await?.is_some() {
            return Ok(sha256);
        }
        let length = bytes.len() as u64;
        let response = self.send(reqwest::Method::PUT, self.object_url(&sha256), &sha256, bytes, None).await?;
        if !response.status().is_success() {
            let status = response.status();
            let detail = response.text().await.unwrap_or_default();
            return Err(remote_error(
                "write",
                &sha256,
                &format!("{status} {}", detail.chars().take(200).collect::<String>()),
            ));
        }
        self.remember_size(&sha256, length);
        Ok(sha256)
    }

    async fn size(&self, sha256: &str) -> Result<Option<u64>, BlobError> {
        check_name(sha256)?;
        if let Some(size) = self.sizes.lock().expect("size cache lock").get(sha256) {
            return Ok(Some(*size));
        }
        let response =
            self.send(reqwest::Method::HEAD, self.object_url(sha256), EMPTY_SHA256, Bytes::new(), None).await?;
        match response.status() {
            reqwest::StatusCode::NOT_FOUND => Ok(None),
            status if status.is_success() => {
                let size = response
                    .headers()
                    .get(reqwest::header::CONTENT_LENGTH)
                    .and_then(|value| value.to_str().ok()?.parse().ok())
                    .ok_or_else(|| remote_error("inspect", sha256, "no content length"))?;
                self.remember_size(sha256, size);
                Ok(Some(size))
            }
            status => Err(remote_error("inspect", sha256, &status.to_string())),
        }
    }

    async fn open(&self, sha256: &str, offset: u64, length: u64) -> Result<BlobReader, BlobError> {
        check_name(sha256)?;
        if length == 0 {
            return Ok(Box::pin(tokio::io::empty()));
        }
        let range = Some((offset, offset + length - 1));
        let response =
            self.send(reqwest::Method::GET, self.object_url(sha256), EMPTY_SHA256, Bytes::new(), range).await?;
        if !response.status().is_success() {
            return Err(remote_error("read", sha256, &response.status().to_string()));
        }
        let stream = response.bytes_stream().map_err(std::io::Error::other);
        Ok(Box::pin(tokio_util::io::StreamReader::new(stream)))
    }

    fn download_url(&self, sha256: &str, valid_for: Duration) -> Option<String> {
        check_name(sha256).ok()?;
        Some(presign_get(&self.settings, &self.object_url(sha256), valid_for, std::time::SystemTime::now()))
    }
}

impl S3BlobStore {
    fn remember_size(&self, sha256: &str, size: u64) {
        let mut sizes = self.sizes.lock().expect("size cache lock");
        if sizes.len() >= SIZE_CACHE_CAPACITY {
            sizes.clear();
        }
        sizes.insert(sha256.to_owned(), size);
    }
}

struct SignedHeaders {
    amz_date: String,
    authorization: String,
}

/// `20261203T194417Z` and `20261203`.
fn amz_times(at: std::time::SystemTime) -> (String, String) {
    let seconds = at.duration_since(std::time::UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_secs()) as i64;
    let stamp = midship_core::clock::format_rfc3339(seconds * 1000);
    // 2026-12-03T19:44:17Z (with or without milliseconds) → 20261203T194417Z
    let digits: String = stamp.chars().filter(|character| character.is_ascii_digit()).take(14).collect();
    (format!("{}T{}Z", &digits[..8], &digits[8..14]), digits[..8].to_owned())
}

fn hmac(key: &[u8], data: &str) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(data.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

fn signing_key(settings: &S3Settings, date: &str) -> Vec<u8> {
    let date_key = hmac(format!("AWS4{}", settings.secret_access_key).as_bytes(), date);
    let region_key = hmac(&date_key, &settings.region);
    let service_key = hmac(&region_key, "s3");
    hmac(&service_key, "aws4_request")
}

fn host_of(url: &Url) -> String {
    match url.port() {
        Some(port) => format!("{}:{port}", url.host_str().unwrap_or_default()),
        None => url.host_str().unwrap_or_default().to_owned(),
    }
}

/// The Authorization header of a request signed in the headers (host, range, payload hash, date).
fn sign_request(
    settings: &S3Settings,
    method: &str,
    url: &Url,
    payload_sha256: &str,
    range: Option<&str>,
    at: std::time::SystemTime,
) -> SignedHeaders {
    let (amz_date, date) = amz_times(at);
    let scope = format!("{date}/{}/s3/aws4_request", settings.region);
    let range_header = range.map(|range| format!("range:{range}\n")).unwrap_or_default();
    let canonical_headers =
        format!("host:{}\n{range_header}x-amz-content-sha256:{payload_sha256}\nx-amz-date:{amz_date}\n", host_of(url));
    let signed_headers = if range.is_some() {
        "host;range;x-amz-content-sha256;x-amz-date"
    } else {
        "host;x-amz-content-sha256;x-amz-date"
    };
    let canonical_request =
        format!("{method}\n{}\n\n{canonical_headers}\n{signed_headers}\n{payload_sha256}", url.path());
    let string_to_sign =
        format!("AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}", hex::encode(Sha256::digest(canonical_request.as_bytes())));
    let signature = hex::encode(hmac(&signing_key(settings, &date), &string_to_sign));
    let authorization = format!(
        "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed_headers}, Signature={signature}",
        settings.access_key_id
    );
    SignedHeaders { amz_date, authorization }
}

/// A GET URL anyone may use until `valid_for` passes (a pre-signed URL, signed in the query).
fn presign_get(settings: &S3Settings, url: &Url, valid_for: Duration, at: std::time::SystemTime) -> String {
    let (amz_date, date) = amz_times(at);
    let scope = format!("{date}/{}/s3/aws4_request", settings.region);
    let mut query = [
        ("X-Amz-Algorithm", "AWS4-HMAC-SHA256".to_owned()),
        ("X-Amz-Credential", format!("{}/{scope}", settings.access_key_id)),
        ("X-Amz-Date", amz_date.clone()),
        ("X-Amz-Expires", valid_for.as_secs().clamp(1, 604_800).to_string()),
        ("X-Amz-SignedHeaders", "host".to_owned()),
    ];
    query.sort_by(|left, right| left.0.cmp(right.0));
    let canonical_query =
        query.iter().map(|(name, value)| format!("{name}={}", uri_encode(value))).collect::<Vec<_>>().join("&");
    let canonical_request =
        format!("GET\n{}\n{canonical_query}\nhost:{}\n\nhost\nUNSIGNED-PAYLOAD", url.path(), host_of(url));
    let string_to_sign =
        format!("AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}", hex::encode(Sha256::digest(canonical_request.as_bytes())));
    let signature = hex::encode(hmac(&signing_key(settings, &date), &string_to_sign));
    let mut signed = url.clone();
    signed.set_query(Some(&format!("{canonical_query}&X-Amz-Signature={signature}")));
    signed.to_string()
}

/// Percent-encoding as SigV4 wants it: everything but unreserved characters.
fn uri_encode(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (byte as char).to_string(),
            _ => format!("%{byte:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example_settings() -> S3Settings {
        S3Settings {
            endpoint: Url::parse("https://examplebucket.s3.amazonaws.com").unwrap(),
            bucket: "examplebucket".into(),
            region: "us-east-1".into(),
            prefix: String::new(),
            access_key_id: "AKIAIOSFODNN7EXAMPLE".into(),
            secret_access_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into(),
        }
    }

    #[test]
    fn presigned_urls_match_the_aws_documentation_example() {
        // "Authenticating Requests: Using Query Parameters" in the S3 API reference: GET
        // /test.txt, 2013-05-24T00:00:00Z, valid 86400 s.
        let at = std::time::UNIX_EPOCH + Duration::from_secs(1_369_353_600);
        let url = Url::parse("https://examplebucket.s3.amazonaws.com/test.txt").unwrap();
        let signed = presign_get(&example_settings(), &url, Duration::from_secs(86_400), at);
        assert!(
            signed.ends_with("X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"),
            "{signed}"
        );
    }

    #[test]
    fn header_signatures_match_the_aws_documentation_example() {
        // "GET Object" example of the Signature Version 4 header documentation: the first ten
        // bytes of /test.txt, 2013-05-24T00:00:00Z.
        let at = std::time::UNIX_EPOCH + Duration::from_secs(1_369_353_600);
        let url = Url::parse("https://examplebucket.s3.amazonaws.com/test.txt").unwrap();
        let signed = sign_request(&example_settings(), "GET", &url, EMPTY_SHA256, Some("bytes=0-9"), at);
        assert_eq!(signed.amz_date, "20130524T000000Z");
        assert_eq!(
            signed.authorization,
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, \
             SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, \
             Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
        );
    }

    #[test]
    fn blob_urls_name_bucket_endpoint_region_and_prefix() {
        let settings =
            S3Settings::from_url("s3://packages?endpoint=http://127.0.0.1:8333&region=eu-west-1&prefix=bank", "k", "s")
                .unwrap();
        assert_eq!((settings.bucket.as_str(), settings.region.as_str()), ("packages", "eu-west-1"));
        assert_eq!((settings.endpoint.as_str(), settings.prefix.as_str()), ("http://127.0.0.1:8333/", "bank/"));
        let with_secret = S3Settings::from_url("s3://b?endpoint=http://x", "k", "topsecret").unwrap();
        assert!(!format!("{with_secret:?}").contains("topsecret"), "the secret key stays out of logs");
        assert!(S3Settings::from_url("s3://b", "k", "s").is_err(), "no endpoint");
        assert!(S3Settings::from_url("http://b?endpoint=http://x", "k", "s").is_err());
        let store = S3BlobStore::new(settings);
        let name = "ab".repeat(32);
        assert_eq!(store.object_url(&name).path(), format!("/packages/bank/ab/{name}"));
    }
}
