//! [`S3Error`]: why the S3 copy of the database could not be read or
//! written, with messages that name the URL and say what to check.

use std::fmt;
use std::io;
use std::path::PathBuf;
use std::time::Duration;

/// Why a download or an upload did not happen. Every message names the
/// `s3://` URL (and the endpoint, when one is configured).
#[derive(Debug)]
pub enum S3Error {
    /// No credentials in the environment, the shared credentials file or
    /// instance metadata.
    NoCredentials { url: String, detail: String },
    /// The store could not be reached (connection refused, DNS, TLS, a
    /// timeout inside a request).
    Unreachable { url: String, detail: String },
    /// The start-up download did not finish within the time allowed.
    TimedOut { url: String, after: Duration },
    /// The store answered with an HTTP error. `code` is S3's error code
    /// (`AccessDenied`, `NoSuchBucket`, ...) when the body had one.
    Refused {
        url: String,
        status: u16,
        code: String,
        message: String,
    },
    /// The object exists but is not a Lovebeat database.
    Corrupt { url: String, reason: String },
    /// Reading or writing the local file failed.
    Local {
        action: &'static str,
        path: PathBuf,
        error: io::Error,
    },
}

impl S3Error {
    /// True when the store refused the credentials it was given.
    pub fn is_credentials_problem(&self) -> bool {
        match self {
            S3Error::NoCredentials { .. } => true,
            S3Error::Refused { code, status, .. } => {
                matches!(
                    code.as_str(),
                    "InvalidAccessKeyId"
                        | "SignatureDoesNotMatch"
                        | "InvalidToken"
                        | "ExpiredToken"
                        | "TokenRefreshRequired"
                        | "InvalidSecurity"
                ) || (code.is_empty() && (*status == 401 || *status == 403))
            }
            _ => false,
        }
    }

    fn hint(&self) -> &'static str {
        let S3Error::Refused { code, status, .. } = self else {
            return "";
        };
        if self.is_credentials_problem() {
            return " (wrong credentials: check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, or the profile in the shared credentials file)";
        }
        match (code.as_str(), status) {
            ("AccessDenied", _) => {
                " (the credentials were accepted but may not use this object: allow s3:GetObject and s3:PutObject on it)"
            }
            ("NoSuchBucket", _) => " (the bucket does not exist: create it)",
            ("PermanentRedirect" | "AuthorizationHeaderMalformed", _) | (_, 301) => {
                " (the bucket is in another region: set [database] remote_s3_region)"
            }
            _ => "",
        }
    }
}

impl fmt::Display for S3Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            S3Error::NoCredentials { url, detail } => write!(
                f,
                "{url}: no AWS credentials found ({detail}); set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, \
                 or a profile (AWS_PROFILE) in ~/.aws/credentials (AWS_SHARED_CREDENTIALS_FILE), \
                 or run with an instance role"
            ),
            S3Error::Unreachable { url, detail } => {
                write!(f, "{url}: cannot reach the store: {detail}")
            }
            S3Error::TimedOut { url, after } => write!(
                f,
                "{url}: no answer within {} s",
                after.as_secs()
            ),
            S3Error::Refused {
                url,
                status,
                code,
                message,
            } => {
                write!(f, "{url}: the store refused the request: HTTP {status}")?;
                if !code.is_empty() {
                    write!(f, " {code}")?;
                }
                if !message.is_empty() {
                    write!(f, ": {message}")?;
                }
                f.write_str(self.hint())
            }
            S3Error::Corrupt { url, reason } => {
                write!(f, "{url}: the object is not a readable Lovebeat database: {reason}")
            }
            S3Error::Local {
                action,
                path,
                error,
            } => write!(f, "cannot {action} {}: {error}", path.display()),
        }
    }
}

impl std::error::Error for S3Error {}

/// Error code and message of an S3 XML error body
/// (`<Error><Code>..</Code><Message>..</Message></Error>`); empty strings
/// when the body has none.
pub fn parse_error_body(body: &[u8]) -> (String, String) {
    let text = String::from_utf8_lossy(body);
    let field = |tag: &str| -> String {
        let open = format!("<{tag}>");
        let close = format!("</{tag}>");
        text.find(&open)
            .and_then(|start| {
                let rest = &text[start + open.len()..];
                rest.find(&close).map(|end| rest[..end].trim().to_string())
            })
            .unwrap_or_default()
    };
    let mut message = field("Message");
    // A body that is not S3 XML (a proxy's HTML page): keep a short excerpt.
    if message.is_empty() && field("Code").is_empty() {
        message = text.trim().chars().take(200).collect();
    }
    (field("Code"), message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies_are_parsed() {
        let body = b"<?xml version=\"1.0\"?><Error><Code>InvalidAccessKeyId</Code>\
            <Message>The AWS Access Key Id you provided does not exist.</Message></Error>";
        let (code, message) = parse_error_body(body);
        assert_eq!(code, "InvalidAccessKeyId");
        assert!(message.starts_with("The AWS Access Key Id"));
        assert_eq!(
            parse_error_body(b"<html>bad gateway</html>"),
            (String::new(), "<html>bad gateway</html>".to_string())
        );
        assert_eq!(parse_error_body(b""), (String::new(), String::new()));
        assert_eq!(
            parse_error_body(b"<Code>x"),
            (String::new(), "<Code>x".into())
        );
    }

    #[test]
    fn messages_name_the_url_and_what_to_do() {
        let refused = |status, code: &str| S3Error::Refused {
            url: "s3://b/k".into(),
            status,
            code: code.into(),
            message: "m".into(),
        };
        let wrong = refused(403, "SignatureDoesNotMatch");
        assert!(wrong.is_credentials_problem());
        assert!(wrong.to_string().contains("s3://b/k"));
        assert!(wrong.to_string().contains("wrong credentials"));
        assert!(refused(403, "InvalidAccessKeyId").is_credentials_problem());
        assert!(!refused(403, "AccessDenied").is_credentials_problem());
        assert!(refused(403, "AccessDenied")
            .to_string()
            .contains("s3:PutObject"));
        assert!(refused(404, "NoSuchBucket")
            .to_string()
            .contains("create it"));
        assert!(refused(301, "").to_string().contains("remote_s3_region"));
        assert!(!refused(500, "InternalError").is_credentials_problem());
    }
}
