//! `rein rollout`: a running server's rollouts, over its HTTP API (the controller lives in
//! the server): show them, and pause, resume, abort or retry one (docs/rollouts.md).

use clap::Subcommand;
use serde_json::Value;

#[derive(Subcommand, Debug)]
pub enum RolloutCommand {
    /// Every component's newest rollout, or one component's: its status, step, what the
    /// newest look found, and every action with its evidence.
    Status {
        /// One component (default: all).
        component: Option<String>,
        #[command(flatten)]
        server: ServerArgs,
        /// As JSON (the shape of `GET /v1/rollouts`).
        #[arg(long)]
        json: bool,
    },
    /// Stop judging the rollout; its plan keeps serving as it is.
    Pause(CommandArgs),
    /// Judge it again, from where it paused.
    Resume(CommandArgs),
    /// Take the candidate out of traffic now; the champion answers.
    Abort(CommandArgs),
    /// Start a rolled-back or aborted rollout again, from its first step.
    Retry(CommandArgs),
}

#[derive(clap::Args, Debug)]
pub struct ServerArgs {
    /// The running server's address.
    #[arg(long, default_value = "http://127.0.0.1:8080", env = "REIN_SERVER")]
    server: String,
    /// The environment variable holding the admin token (the server's `admin_token_env`).
    #[arg(long, default_value = "REIN_ADMIN_TOKEN")]
    token_env: String,
}

#[derive(clap::Args, Debug)]
pub struct CommandArgs {
    /// The component whose rollout it is.
    component: String,
    #[command(flatten)]
    server: ServerArgs,
    /// Who gives the command, for the record (default: $USER).
    #[arg(long)]
    by: Option<String>,
    /// Why, for the record.
    #[arg(long, default_value = "")]
    reason: String,
}

pub fn run(command: RolloutCommand) -> Result<(), String> {
    let runtime = crate::runtime()?;
    runtime.block_on(async move {
        let client = reqwest::Client::new();
        match command {
            RolloutCommand::Status { component, server, json } => {
                let path = match &component {
                    Some(c) => format!("/v1/components/{c}/rollout"),
                    None => "/v1/rollouts".to_string(),
                };
                let answer = send(client.get(url(&server, &path)), &server).await?;
                let rollouts = match component {
                    Some(_) => vec![answer.clone()],
                    None => answer["rollouts"].as_array().cloned().unwrap_or_default(),
                };
                if json {
                    println!("{}", serde_json::to_string_pretty(&answer).unwrap_or_default());
                } else if rollouts.is_empty() {
                    println!("no rollout: a traffic plan with `analysis` starts one");
                } else {
                    rollouts.iter().for_each(|r| print!("{}", describe(r)));
                }
                Ok(())
            }
            RolloutCommand::Pause(a) => operate(&client, "pause", a).await,
            RolloutCommand::Resume(a) => operate(&client, "resume", a).await,
            RolloutCommand::Abort(a) => operate(&client, "abort", a).await,
            RolloutCommand::Retry(a) => operate(&client, "retry", a).await,
        }
    })
}

async fn operate(client: &reqwest::Client, command: &str, a: CommandArgs) -> Result<(), String> {
    let by = a.by.or_else(|| std::env::var("USER").ok()).unwrap_or_else(|| "cli".into());
    let body = serde_json::json!({"by": by, "reason": a.reason});
    let path = format!("/v1/components/{}/rollout/{command}", a.component);
    let r = send(client.post(url(&a.server, &path)).json(&body), &a.server).await?;
    print!("{}", describe(&r));
    Ok(())
}

fn url(server: &ServerArgs, path: &str) -> String {
    format!("{}{path}", server.server.trim_end_matches('/'))
}

/// Sends with the admin token when its variable is set; an error answer becomes its message.
async fn send(request: reqwest::RequestBuilder, server: &ServerArgs) -> Result<Value, String> {
    let token = std::env::var(&server.token_env).ok().filter(|t| !t.is_empty());
    call(request, token.as_deref()).await.map_err(|failed| match failed {
        Failed::Unreachable(e) => format!("cannot reach rein at {}: {e}", server.server),
        Failed::Answered(status, message) if status.as_u16() == 401 => {
            format!("rein answered {status}: {message} (put the admin token in ${})", server.token_env)
        }
        Failed::Answered(status, message) => format!("rein answered {status}: {message}"),
    })
}

/// Why a call to rein's API did not answer 2xx.
pub(crate) enum Failed {
    Unreachable(reqwest::Error),
    /// The status and rein's error message.
    Answered(reqwest::StatusCode, String),
}

/// One call to rein's API with the admin token, if given: its JSON answer, or why not.
pub(crate) async fn call(request: reqwest::RequestBuilder, token: Option<&str>) -> Result<Value, Failed> {
    let request = match token {
        Some(token) => request.bearer_auth(token),
        None => request,
    };
    let response = request.send().await.map_err(Failed::Unreachable)?;
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    if status.is_success() {
        return Ok(body);
    }
    Err(Failed::Answered(status, body["error"]["message"].as_str().unwrap_or("no message").to_string()))
}

/// A rollout for a person: where it stands, then every action.
fn describe(r: &Value) -> String {
    use std::fmt::Write;
    // 0: taken before the first prediction told the controller what time it is
    let time = |ms: &Value| match ms.as_i64() {
        Some(ms) if ms > 0 => rein_monitor::goals::time_text(ms),
        _ => "(before any prediction)".to_string(),
    };
    let mut s = format!(
        "rollout {} of {}: {}, candidate {} against champion {}\n",
        r["id"].as_str().unwrap_or_default(),
        r["component"].as_str().unwrap_or_default(),
        r["status"].as_str().unwrap_or_default(),
        r["candidate"].as_str().unwrap_or_default(),
        r["champion"].as_str().unwrap_or_default(),
    );
    if let Some(canary) = r["plan"]["canary"].as_object() {
        let steps = canary.get("steps").map(Value::to_string).unwrap_or_default();
        let step = canary.get("step").and_then(Value::as_u64).unwrap_or(0);
        let _ = writeln!(s, "  canary step {step} of {steps}");
    }
    if let Some(waiting) = r["waiting"].as_str() {
        let _ = writeln!(s, "  waiting: {waiting}");
    }
    for a in r["actions"].as_array().into_iter().flatten() {
        let _ = writeln!(s, "  {}  {}", time(&a["at_ms"]), a["summary"].as_str().unwrap_or_default());
    }
    s
}
