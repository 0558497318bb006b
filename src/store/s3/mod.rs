//! The S3 copy of the database (SPEC 8, `remote_s3_*`): at start the object
//! is downloaded over the local file; after every save the file is uploaded.
//!
//! - this file: [`S3Settings`] (from `[database]`) and [`RemoteStore`], one
//!   blocking GET or PUT of the whole object with rust-s3's sync client.
//! - `fetch`: the start-up download, bounded in time, replacing the local
//!   file only with a complete, readable database.
//! - `uploader`: the "s3-upload" thread fed by the saver's after-save hook.
//! - `error`: [`S3Error`] and its messages.
//!
//! Credentials are found as AWS tools find them: `AWS_ACCESS_KEY_ID` /
//! `AWS_SECRET_ACCESS_KEY` (and `AWS_SESSION_TOKEN`), then the profile
//! `AWS_PROFILE` (default `default`) of the shared credentials file
//! (`AWS_SHARED_CREDENTIALS_FILE`, default `~/.aws/credentials`), then web
//! identity, container and EC2 instance metadata credentials.

mod error;
mod fetch;
mod uploader;

pub use error::S3Error;
pub use fetch::{fetch_at_start, Fetched, FETCH_BUDGET};
pub use uploader::{spawn_uploader, UploadTrigger, Uploader};

use crate::config;
use ::s3::creds::Credentials;
use ::s3::{Bucket, Region};
use error::parse_error_body;
use std::time::Duration;

/// Longest a single request may take once connected (an upload of a large
/// database over a slow link included).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// Where the copy lives, from `[database] remote_s3_*`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct S3Settings {
    /// `s3://bucket/key` as configured (used in messages).
    pub url: String,
    pub bucket: String,
    pub key: String,
    /// Empty: `AWS_REGION`, `AWS_DEFAULT_REGION`, else `us-east-1`.
    pub region: String,
    /// Empty: AWS itself (virtual-hosted style); otherwise an
    /// S3-compatible store addressed path-style.
    pub endpoint: String,
}

impl S3Settings {
    /// `None` when `remote_s3_url` is empty (no S3 copy). The config was
    /// validated, so an `Err` here only happens for a `Database` built in
    /// code without validation.
    pub fn from_config(db: &config::Database) -> Option<Result<S3Settings, String>> {
        if db.remote_s3_url.is_empty() {
            return None;
        }
        Some(
            config::s3_location(&db.remote_s3_url).map(|(bucket, key)| S3Settings {
                url: db.remote_s3_url.clone(),
                bucket,
                key,
                region: db.remote_s3_region.clone(),
                endpoint: db.remote_s3_endpoint.trim_end_matches('/').to_string(),
            }),
        )
    }

    /// The URL, with the endpoint when there is one, for messages.
    pub fn describe(&self) -> String {
        if self.endpoint.is_empty() {
            self.url.clone()
        } else {
            format!("{} (endpoint {})", self.url, self.endpoint)
        }
    }

    fn region(&self) -> Region {
        let name = if self.region.is_empty() {
            ["AWS_REGION", "AWS_DEFAULT_REGION"]
                .iter()
                .find_map(|v| std::env::var(v).ok().filter(|r| !r.is_empty()))
                .unwrap_or_else(|| "us-east-1".to_string())
        } else {
            self.region.clone()
        };
        if !self.endpoint.is_empty() {
            return Region::Custom {
                region: name,
                endpoint: self.endpoint.clone(),
            };
        }
        let aws = |region: String| Region::Custom {
            endpoint: format!("https://s3.{region}.amazonaws.com"),
            region,
        };
        match name.parse::<Region>() {
            // A region rust-s3 does not know yet: AWS's own naming.
            Ok(Region::Custom { region, .. }) => aws(region),
            Ok(known) => known,
            Err(_) => aws(name),
        }
    }
}

/// The AWS tools' order: environment, shared credentials file (profile
/// `AWS_PROFILE`), web identity, container, then EC2 instance metadata
/// unless `AWS_EC2_METADATA_DISABLED=true`.
fn find_credentials() -> Result<Credentials, String> {
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let profile = env("AWS_PROFILE");
    let metadata =
        !env("AWS_EC2_METADATA_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true"));
    Credentials::from_env()
        .or_else(|_| Credentials::from_profile(profile.as_deref()))
        .or_else(|_| Credentials::from_sts_env("lovebeat"))
        .or_else(|_| Credentials::from_container_credentials_provider())
        .or_else(|e| match metadata {
            true => Credentials::from_instance_metadata_v2(false)
                .or_else(|_| Credentials::from_instance_metadata(false)),
            false => Err(e),
        })
        .map_err(|_| {
            format!(
                "looked in the environment, the profile `{}` of {}{}",
                profile.as_deref().unwrap_or("default"),
                env("AWS_SHARED_CREDENTIALS_FILE").unwrap_or_else(|| "~/.aws/credentials".into()),
                if metadata {
                    ", web identity, container and instance metadata"
                } else {
                    " (instance metadata disabled by AWS_EC2_METADATA_DISABLED)"
                }
            )
        })
}

/// Largest object a download accepts (a database of millions of services
/// is tens of MB): a wrong URL pointing at something huge must not exhaust
/// memory.
pub const MAX_OBJECT_BYTES: usize = 1 << 30;

/// A `Vec` that refuses to grow beyond [`MAX_OBJECT_BYTES`].
struct Capped(Vec<u8>);

impl std::io::Write for Capped {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.0.len() + buf.len() > MAX_OBJECT_BYTES {
            return Err(std::io::ErrorKind::FileTooLarge.into());
        }
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The object, ready for one GET or PUT at a time.
pub struct RemoteStore {
    bucket: Box<Bucket>,
    key: String,
    /// `describe()` of the settings, for messages.
    url: String,
}

/// What a GET found.
#[derive(Debug, PartialEq, Eq)]
pub enum Object {
    Found(Vec<u8>),
    /// The bucket exists but holds no such object.
    Missing,
}

impl RemoteStore {
    /// Finds credentials (which may ask the instance metadata service) and
    /// prepares the bucket. Fails with `NoCredentials` when there are none.
    pub fn connect(settings: &S3Settings) -> Result<RemoteStore, S3Error> {
        let url = settings.describe();
        let credentials = find_credentials().map_err(|detail| S3Error::NoCredentials {
            url: url.clone(),
            detail,
        })?;
        let unreachable = |e: ::s3::error::S3Error| S3Error::Unreachable {
            url: url.clone(),
            detail: e.to_string(),
        };
        let mut bucket = Bucket::new(&settings.bucket, settings.region(), credentials)
            .map_err(unreachable)?
            .with_request_timeout(REQUEST_TIMEOUT)
            .map_err(unreachable)?;
        if !settings.endpoint.is_empty() {
            bucket = bucket.with_path_style();
        }
        Ok(RemoteStore {
            bucket,
            key: settings.key.clone(),
            url,
        })
    }

    /// GETs the whole object (at most [`MAX_OBJECT_BYTES`]).
    pub fn get(&self) -> Result<Object, S3Error> {
        let mut body = Capped(Vec::new());
        match self.bucket.get_object_to_writer(&self.key, &mut body) {
            Ok(200) => Ok(Object::Found(body.0)),
            Ok(status) => Err(self.refused(status, &body.0)),
            Err(::s3::error::S3Error::Io(e)) if e.kind() == std::io::ErrorKind::FileTooLarge => {
                Err(S3Error::Corrupt {
                    url: self.url.clone(),
                    reason: format!("larger than {MAX_OBJECT_BYTES} bytes"),
                })
            }
            Err(e) => match self.error(e) {
                S3Error::Refused {
                    status: 404, code, ..
                } if code == "NoSuchKey" || code.is_empty() => Ok(Object::Missing),
                other => Err(other),
            },
        }
    }

    /// PUTs `bytes` as the whole object.
    pub fn put(&self, bytes: &[u8]) -> Result<(), S3Error> {
        match self.bucket.put_object(&self.key, bytes) {
            Ok(response) if (200..300).contains(&response.status_code()) => Ok(()),
            // Without a body: rust-s3 keeps only the ETag of a PUT's answer.
            Ok(response) => Err(self.refused(response.status_code(), b"")),
            Err(e) => Err(self.error(e)),
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// rust-s3's error as ours: an HTTP error answer (`fail-on-err` keeps
    /// its body) is `Refused`, anything else `Unreachable`.
    fn error(&self, e: ::s3::error::S3Error) -> S3Error {
        match e {
            ::s3::error::S3Error::HttpFailWithBody(status, body) => {
                self.refused(status, body.as_bytes())
            }
            other => S3Error::Unreachable {
                url: self.url.clone(),
                detail: other.to_string(),
            },
        }
    }

    fn refused(&self, status: u16, body: &[u8]) -> S3Error {
        let (code, message) = parse_error_body(body);
        S3Error::Refused {
            url: self.url.clone(),
            status,
            code,
            message,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(region: &str, endpoint: &str) -> S3Settings {
        let db = config::Database {
            remote_s3_url: "s3://bucket-1/a/b.db".into(),
            remote_s3_region: region.into(),
            remote_s3_endpoint: endpoint.into(),
            ..config::Database::default()
        };
        S3Settings::from_config(&db)
            .expect("configured")
            .expect("valid")
    }

    #[test]
    fn downloads_are_capped() {
        use std::io::Write;
        let mut body = Capped(vec![0; MAX_OBJECT_BYTES - 2]);
        assert_eq!(body.write(b"ab").ok(), Some(2));
        let error = body.write(b"c").expect_err("over the cap");
        assert_eq!(error.kind(), std::io::ErrorKind::FileTooLarge);
        assert_eq!(body.0.len(), MAX_OBJECT_BYTES);
    }

    #[test]
    fn settings_from_config() {
        assert!(S3Settings::from_config(&config::Database::default()).is_none());
        let s = settings("eu-west-1", "http://127.0.0.1:9000/");
        assert_eq!((s.bucket.as_str(), s.key.as_str()), ("bucket-1", "a/b.db"));
        assert_eq!(s.endpoint, "http://127.0.0.1:9000");
        assert_eq!(
            s.describe(),
            "s3://bucket-1/a/b.db (endpoint http://127.0.0.1:9000)"
        );
        assert_eq!(
            s.region(),
            Region::Custom {
                region: "eu-west-1".into(),
                endpoint: "http://127.0.0.1:9000".into()
            }
        );
        assert_eq!(settings("eu-west-1", "").region(), Region::EuWest1);
        assert_eq!(
            settings("xx-new-7", "").region(),
            Region::Custom {
                region: "xx-new-7".into(),
                endpoint: "https://s3.xx-new-7.amazonaws.com".into()
            }
        );
    }
}
