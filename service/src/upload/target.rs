//! Where uploads go and with which credentials, read from MLflow's own
//! environment variables.
//!
//! The server is `RINGTRACK_MLFLOW_URI`, else `MLFLOW_TRACKING_URI` (only
//! `http://` and `https://` URIs: MLflow's local `file:` stores are not a
//! server). Credentials follow MLflow's conventions: `MLFLOW_TRACKING_TOKEN`
//! is sent as a bearer token; otherwise `MLFLOW_TRACKING_USERNAME` and
//! `MLFLOW_TRACKING_PASSWORD` as basic authentication. Credentials are
//! read by the process that uploads, never written to disk, and never
//! printed: the `Debug` form of a [`Target`] hides them.

use std::fmt;

/// How to authenticate.
#[derive(Clone, PartialEq, Eq)]
pub enum Auth {
    /// `Authorization: Bearer <token>`.
    Bearer(String),
    /// `Authorization: Basic <user:password>`.
    Basic {
        /// The user name.
        user: String,
        /// The password.
        password: String,
    },
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Auth::Bearer(_) => f.write_str("Bearer(<hidden>)"),
            Auth::Basic { user, .. } => write!(f, "Basic({user}, <hidden>)"),
        }
    }
}

/// An MLflow tracking server to upload to.
#[derive(Clone, PartialEq, Eq)]
pub struct Target {
    /// The server's base URI, without a trailing slash.
    pub uri: String,
    /// Credentials, if any.
    pub auth: Option<Auth>,
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Target")
            .field("uri", &self.uri)
            .field("auth", &self.auth)
            .finish()
    }
}

impl Target {
    /// A target for `uri` with the credentials from the environment.
    pub fn new(uri: &str) -> Result<Target, String> {
        let uri = uri.trim().trim_end_matches('/');
        if !(uri.starts_with("http://") || uri.starts_with("https://")) {
            return Err(format!(
                "tracking URI {uri:?} is not an http:// or https:// server address"
            ));
        }
        Ok(Target {
            uri: uri.to_owned(),
            auth: auth_from_env(),
        })
    }

    /// The server named by the environment, if any.
    pub fn from_env() -> Option<Result<Target, String>> {
        let uri = std::env::var("RINGTRACK_MLFLOW_URI")
            .or_else(|_| std::env::var("MLFLOW_TRACKING_URI"))
            .ok()
            .filter(|u| !u.trim().is_empty())?;
        Some(Target::new(&uri))
    }
}

fn auth_from_env() -> Option<Auth> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    if let Some(token) = var("MLFLOW_TRACKING_TOKEN") {
        return Some(Auth::Bearer(token));
    }
    match (
        var("MLFLOW_TRACKING_USERNAME"),
        var("MLFLOW_TRACKING_PASSWORD"),
    ) {
        (Some(user), Some(password)) => Some(Auth::Basic { user, password }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_never_show_in_debug_output() {
        let target = Target {
            uri: "https://mlflow.example".into(),
            auth: Some(Auth::Basic {
                user: "ada".into(),
                password: "s3cret".into(),
            }),
        };
        let text = format!("{target:?}");
        assert!(text.contains("ada") && !text.contains("s3cret"), "{text}");
        let bearer = format!("{:?}", Auth::Bearer("tok-123".into()));
        assert!(!bearer.contains("tok-123"));
    }

    #[test]
    fn only_server_uris_are_targets() {
        assert!(Target::new("file:///tmp/mlruns")
            .unwrap_err()
            .contains("not an http"));
        assert_eq!(
            Target::new("http://127.0.0.1:5000/").unwrap().uri,
            "http://127.0.0.1:5000"
        );
    }
}
