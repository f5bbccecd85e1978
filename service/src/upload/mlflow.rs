//! The MLflow REST calls the uploader makes, with each failure classified
//! as worth retrying or not.
//!
//! Retried: no reply (connection refused or reset, timeout), 429 (after its
//! `Retry-After` when given) and every 5xx. Not retried: any other 4xx,
//! which says the request itself is wrong; the caller sets that batch
//! aside with the server's message.

use std::time::Duration;

use hyper::{Method, StatusCode};
use serde_json::{json, Value as Json};

use super::http::{HttpClient, Reply, TransportError};
use super::retry::{parse_retry_after, RetryPolicy};

/// A call that did not succeed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallError {
    /// Worth another attempt later (all attempts were used).
    Unavailable(String),
    /// The server refused the request; sending it again will not help.
    Rejected {
        /// The HTTP status.
        status: u16,
        /// MLflow's error code, e.g. `INVALID_PARAMETER_VALUE`.
        code: String,
        /// The server's message.
        message: String,
    },
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::Unavailable(e) => write!(f, "server unavailable: {e}"),
            CallError::Rejected {
                status,
                code,
                message,
            } => {
                write!(f, "server refused the request ({status} {code}): {message}")
            }
        }
    }
}

enum Attempt {
    Done(Json),
    Retry {
        reason: String,
        after: Option<Duration>,
    },
    Fail(CallError),
}

/// One metric point.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    /// The MLflow key.
    pub key: String,
    /// The value; NaN is sent as MLflow's `"NaN"`.
    pub value: f64,
    /// Milliseconds since the Unix epoch.
    pub timestamp_ms: i64,
    /// The step.
    pub step: i64,
}

/// The MLflow API over one HTTP client.
#[derive(Debug, Clone)]
pub struct Mlflow {
    http: HttpClient,
    policy: RetryPolicy,
    run_label: String,
}

const API: &str = "/api/2.0/mlflow";

impl Mlflow {
    /// An API client; `run_label` names the run in retry log lines.
    pub fn new(http: HttpClient, policy: RetryPolicy, run_label: &str) -> Mlflow {
        Mlflow {
            http,
            policy,
            run_label: run_label.to_owned(),
        }
    }

    /// The experiment's id, creating the experiment when it is missing.
    pub async fn experiment_id(&self, name: &str) -> Result<String, CallError> {
        let path = format!(
            "{API}/experiments/get-by-name?experiment_name={}",
            query_escape(name)
        );
        match self.call(Method::GET, &path, None).await {
            Ok(reply) => return id_at(&reply, &["experiment", "experiment_id"]),
            Err(CallError::Rejected { code, .. })
                if code == "RESOURCE_DOES_NOT_EXIST" => {}
            Err(e) => return Err(e),
        }
        match self
            .call(
                Method::POST,
                &format!("{API}/experiments/create"),
                Some(json!({ "name": name })),
            )
            .await
        {
            Ok(reply) => id_at(&reply, &["experiment_id"]),
            // Another uploader created it in between.
            Err(CallError::Rejected { code, .. })
                if code == "RESOURCE_ALREADY_EXISTS" =>
            {
                let reply = self.call(Method::GET, &path, None).await?;
                id_at(&reply, &["experiment", "experiment_id"])
            }
            Err(e) => Err(e),
        }
    }

    /// The run tagged `ringtrack.run_id = id` in the experiment, if any.
    pub async fn find_run(
        &self,
        experiment_id: &str,
        id: &str,
    ) -> Result<Option<String>, CallError> {
        let body = json!({
            "experiment_ids": [experiment_id],
            "filter": format!("tags.`ringtrack.run_id` = '{}'", id.replace('\'', "")),
            "max_results": 2,
        });
        let reply = self
            .call(Method::POST, &format!("{API}/runs/search"), Some(body))
            .await?;
        Ok(reply["runs"][0]["info"]["run_id"]
            .as_str()
            .map(str::to_owned))
    }

    /// Creates a run and returns its id.
    pub async fn create_run(
        &self,
        experiment_id: &str,
        name: &str,
        start_ms: i64,
        tags: &[(String, String)],
    ) -> Result<String, CallError> {
        let tags: Vec<Json> = tags
            .iter()
            .map(|(k, v)| json!({ "key": k, "value": v }))
            .collect();
        let body = json!({
            "experiment_id": experiment_id,
            "run_name": name,
            "start_time": start_ms,
            "tags": tags,
        });
        let reply = self
            .call(Method::POST, &format!("{API}/runs/create"), Some(body))
            .await?;
        id_at(&reply, &["run", "info", "run_id"])
    }

    /// Logs metrics, params and tags in one request.
    pub async fn log_batch(
        &self,
        run_id: &str,
        points: &[Point],
        params: &[(String, String)],
        tags: &[(String, String)],
    ) -> Result<(), CallError> {
        let metrics: Vec<Json> = points
            .iter()
            .map(|p| {
                let value = if p.value.is_nan() { json!("NaN") } else { json!(p.value) };
                json!({ "key": p.key, "value": value, "timestamp": p.timestamp_ms, "step": p.step })
            })
            .collect();
        let pairs = |list: &[(String, String)]| -> Vec<Json> {
            list.iter()
                .map(|(k, v)| json!({ "key": k, "value": v }))
                .collect()
        };
        let body = json!({
            "run_id": run_id,
            "metrics": metrics,
            "params": pairs(params),
            "tags": pairs(tags),
        });
        self.call(Method::POST, &format!("{API}/runs/log-batch"), Some(body))
            .await
            .map(drop)
    }

    /// Sets the run's final status and end time.
    pub async fn end_run(
        &self,
        run_id: &str,
        status: &str,
        end_ms: i64,
    ) -> Result<(), CallError> {
        let body = json!({ "run_id": run_id, "status": status, "end_time": end_ms });
        self.call(Method::POST, &format!("{API}/runs/update"), Some(body))
            .await
            .map(drop)
    }

    /// Sends a request with retries by the policy.
    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Json>,
    ) -> Result<Json, CallError> {
        let text = body.map(|b| b.to_string());
        let seed = std::process::id() as u64 ^ path.len() as u64;
        let mut last = String::new();
        for attempt in 1..=self.policy.attempts {
            match self.attempt(method.clone(), path, text.clone()).await {
                Attempt::Done(json) => return Ok(json),
                Attempt::Fail(err) => return Err(err),
                Attempt::Retry { reason, after } => {
                    if attempt == self.policy.attempts {
                        last = reason;
                        break;
                    }
                    let wait = self.policy.wait(attempt, after, seed);
                    tracing::warn!(
                        run = %self.run_label,
                        attempt,
                        wait_ms = wait.as_millis() as u64,
                        reason = %reason,
                        "upload request failed; retrying"
                    );
                    tokio::time::sleep(wait).await;
                    last = reason;
                }
            }
        }
        Err(CallError::Unavailable(format!(
            "{} attempts failed; last: {last}",
            self.policy.attempts
        )))
    }

    async fn attempt(&self, method: Method, path: &str, body: Option<String>) -> Attempt {
        match self.http.send(method, path, body).await {
            Err(TransportError::TimedOut(t)) => Attempt::Retry {
                reason: format!("no reply within {t:?}"),
                after: None,
            },
            Err(TransportError::Failed(e)) => Attempt::Retry {
                reason: e,
                after: None,
            },
            Ok(reply) => classify(reply),
        }
    }
}

fn classify(reply: Reply) -> Attempt {
    let status = reply.status;
    if status.is_success() {
        return match serde_json::from_str(&reply.body) {
            Ok(json) => Attempt::Done(json),
            Err(e) => Attempt::Retry {
                reason: format!("{status} with a body that is not JSON: {e}"),
                after: None,
            },
        };
    }
    let json: Json = serde_json::from_str(&reply.body).unwrap_or(Json::Null);
    let code = json["error_code"].as_str().unwrap_or("").to_owned();
    let message = json["message"]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| shorten(&reply.body));
    if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
        let after = reply.retry_after.as_deref().and_then(parse_retry_after);
        return Attempt::Retry {
            reason: format!("{status}: {message}"),
            after,
        };
    }
    Attempt::Fail(CallError::Rejected {
        status: status.as_u16(),
        code,
        message,
    })
}

fn shorten(text: &str) -> String {
    let mut end = text.len().min(300);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

fn id_at(json: &Json, path: &[&str]) -> Result<String, CallError> {
    let mut node = json;
    for key in path {
        node = &node[*key];
    }
    node.as_str().map(str::to_owned).ok_or_else(|| {
        CallError::Unavailable(format!(
            "reply has no {}: {}",
            path.join("."),
            shorten(&json.to_string())
        ))
    })
}

fn query_escape(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(status: u16, body: &str, retry_after: Option<&str>) -> Reply {
        Reply {
            status: StatusCode::from_u16(status).unwrap(),
            retry_after: retry_after.map(str::to_owned),
            body: body.to_owned(),
        }
    }

    #[test]
    fn failures_are_classified() {
        assert!(matches!(classify(reply(200, "{}", None)), Attempt::Done(_)));
        assert!(matches!(
            classify(reply(503, "busy", None)),
            Attempt::Retry { after: None, .. }
        ));
        let Attempt::Retry { after, .. } = classify(reply(429, "{}", Some("2"))) else {
            panic!("429 retries")
        };
        assert_eq!(after, Some(Duration::from_secs(2)));
        let body = r#"{"error_code":"INVALID_PARAMETER_VALUE","message":"Changing param values is not allowed."}"#;
        let Attempt::Fail(CallError::Rejected {
            status,
            code,
            message,
        }) = classify(reply(400, body, None))
        else {
            panic!("400 is final")
        };
        assert_eq!((status, code.as_str()), (400, "INVALID_PARAMETER_VALUE"));
        assert!(message.contains("Changing param"));
    }

    #[test]
    fn experiment_names_are_escaped() {
        assert_eq!(query_escape("my exp/1"), "my%20exp%2F1");
    }
}
