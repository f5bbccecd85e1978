//! Reading a real MLflow server back, to check what it stores.
//!
//! The server is the one `scripts/test` starts and names in
//! `RINGTRACK_TEST_MLFLOW_URI`.

use serde_json::{json, Value as Json};

use crate::http::request;

/// The test MLflow server.
#[derive(Debug, Clone)]
pub struct MlflowServer {
    /// Its base URI.
    pub uri: String,
}

/// One stored metric point.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredPoint {
    /// Step.
    pub step: i64,
    /// Value (NaN when MLflow says "NaN").
    pub value: f64,
    /// Milliseconds since the Unix epoch.
    pub timestamp_ms: i64,
}

impl MlflowServer {
    /// The server from `RINGTRACK_TEST_MLFLOW_URI`.
    pub fn from_env() -> MlflowServer {
        let uri = std::env::var("RINGTRACK_TEST_MLFLOW_URI").expect(
            "RINGTRACK_TEST_MLFLOW_URI is not set: the upload tests need a real MLflow server; \
             run them through scripts/test, which starts one",
        );
        MlflowServer { uri }
    }

    fn call(&self, method: &str, path: &str, body: Option<Json>) -> Json {
        let text = body.map(|b| b.to_string());
        let reply = request(
            &self.uri,
            method,
            &format!("/api/2.0/mlflow{path}"),
            text.as_deref(),
        )
        .unwrap_or_else(|e| panic!("MLflow {path}: {e}"));
        assert_eq!(reply.status, 200, "MLflow {path}: {}", reply.body);
        serde_json::from_str(&reply.body).expect("MLflow reply is JSON")
    }

    /// The MLflow run of the ringtrack run `id` in experiment `project`.
    pub fn run_of(&self, project: &str, id: &str) -> Option<Json> {
        let path = format!("/experiments/get-by-name?experiment_name={project}");
        let reply =
            request(&self.uri, "GET", &format!("/api/2.0/mlflow{path}"), None).ok()?;
        if reply.status != 200 {
            return None;
        }
        let experiment: Json = serde_json::from_str(&reply.body).ok()?;
        let experiment_id = experiment["experiment"]["experiment_id"]
            .as_str()?
            .to_owned();
        let found = self.call(
            "POST",
            "/runs/search",
            Some(json!({
                "experiment_ids": [experiment_id],
                "filter": format!("tags.`ringtrack.run_id` = '{id}'"),
            })),
        );
        let runs = found["runs"].as_array().cloned().unwrap_or_default();
        assert!(
            runs.len() <= 1,
            "ringtrack run {id} exists {} times on the server",
            runs.len()
        );
        runs.into_iter().next()
    }

    /// Every stored point of `key`, in the server's order.
    pub fn history(&self, run_id: &str, key: &str) -> Vec<StoredPoint> {
        let mut points = Vec::new();
        let mut token = String::new();
        loop {
            let mut path = format!(
                "/metrics/get-history?run_id={run_id}&metric_key={}&max_results=25000",
                escape(key)
            );
            if !token.is_empty() {
                path.push_str(&format!("&page_token={token}"));
            }
            let reply = self.call("GET", &path, None);
            for m in reply["metrics"].as_array().cloned().unwrap_or_default() {
                let value = match &m["value"] {
                    Json::String(s) if s == "NaN" => f64::NAN,
                    v => v.as_f64().expect("numeric metric value"),
                };
                points.push(StoredPoint {
                    step: m["step"].as_i64().unwrap_or(0),
                    value,
                    timestamp_ms: m["timestamp"].as_i64().unwrap_or(0),
                });
            }
            match reply["next_page_token"].as_str() {
                Some(next) if !next.is_empty() => token = next.to_owned(),
                _ => return points,
            }
        }
    }

    /// A run's status, params and tags.
    pub fn run_data(&self, run_id: &str) -> Json {
        self.call("GET", &format!("/runs/get?run_id={run_id}"), None)["run"].clone()
    }
}

/// The value of `key` in a list of `{key, value}` objects.
pub fn entry<'a>(list: &'a Json, key: &str) -> Option<&'a str> {
    list.as_array()?
        .iter()
        .find(|e| e["key"] == key)
        .and_then(|e| e["value"].as_str())
}

fn escape(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
