//! `cargo clay verify-key`: step 3 of a key rotation in Clay's security practice, "verify new key works".
//!
//! Sends one request with the key from an environment variable and reports `valid` (2xx),
//! `invalid` (401 or 403), `unexpected` (any other status) or `unreachable`. The key is sent
//! and never printed; neither is the response body.

use std::io::Write;
use std::time::Duration;

use serde_json::json;

use crate::report::Format;
use crate::{Error, Outcome};

/// Clay's public API endpoint that answers for any valid key.
pub const DEFAULT_URL: &str = "https://api.clay.com/public/v0/me";
/// The header Clay's public API takes the key in.
pub const CLAY_KEY_HEADER: &str = "clay-api-key";

/// How the key is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Auth {
    /// In a header (`--header`, default `clay-api-key`), as Clay's public API takes it.
    Header,
    /// `Authorization: Bearer <key>`, as the `curl` of Clay's rotation steps does.
    Bearer,
}

/// Arguments of `cargo clay verify-key`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The environment variable that holds the key.
    #[arg(long, value_name = "VAR", default_value = "CLAY_API_KEY")]
    pub env_var: String,
    /// The URL to send `GET` to.
    #[arg(long, default_value = DEFAULT_URL)]
    pub url: String,
    /// How the key is sent.
    #[arg(long, value_enum, default_value_t = Auth::Header)]
    pub auth: Auth,
    /// The header for `--auth header`.
    #[arg(long, value_name = "NAME", default_value = CLAY_KEY_HEADER)]
    pub header: String,
    /// Seconds to wait for the whole request.
    #[arg(long, value_name = "SECONDS", default_value_t = 10)]
    pub timeout: u64,
    /// Output format (`sarif` is not offered: the result is about a key, not a file).
    #[arg(long, default_value = "text", value_parser = text_or_json())]
    pub format: Format,
}

fn text_or_json() -> impl clap::builder::TypedValueParser<Value = Format> {
    use clap::builder::TypedValueParser as _;
    clap::builder::PossibleValuesParser::new(["text", "json"]).map(|format| {
        if format == "json" {
            Format::Json
        } else {
            Format::Text
        }
    })
}

/// What the server said about the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// A 2xx answer.
    Valid(u16),
    /// 401 or 403.
    Invalid(u16),
    /// Any other status.
    Unexpected(u16),
    /// No answer: DNS, connection, TLS or timeout.
    Unreachable(String),
}

impl Verdict {
    fn name(&self) -> &'static str {
        match self {
            Verdict::Valid(_) => "valid",
            Verdict::Invalid(_) => "invalid",
            Verdict::Unexpected(_) => "unexpected",
            Verdict::Unreachable(_) => "unreachable",
        }
    }

    fn status(&self) -> Option<u16> {
        match self {
            Verdict::Valid(s) | Verdict::Invalid(s) | Verdict::Unexpected(s) => Some(*s),
            Verdict::Unreachable(_) => None,
        }
    }
}

/// Sends the request and judges the answer.
pub fn verify(url: &str, auth: Auth, header: &str, key: &str, timeout: Duration) -> Verdict {
    let config = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(timeout))
        // A redirect would carry the key to another host.
        .max_redirects(0)
        .build();
    let agent = ureq::Agent::new_with_config(config);
    let request = agent.get(url);
    let request = match auth {
        Auth::Header => request.header(header, key),
        Auth::Bearer => request.header("authorization", format!("Bearer {key}")),
    };
    match request.call() {
        Ok(response) => {
            let status = response.status().as_u16();
            match status {
                200..=299 => Verdict::Valid(status),
                401 | 403 => Verdict::Invalid(status),
                _ => Verdict::Unexpected(status),
            }
        }
        // The error text names the URL and the cause, never the request's headers.
        Err(error) => Verdict::Unreachable(error.to_string()),
    }
}

/// Runs `cargo clay verify-key`.
pub fn run(args: &Args, out: &mut dyn Write) -> Result<Outcome, Error> {
    let key = match std::env::var(&args.env_var) {
        Ok(key) if !key.trim().is_empty() => key,
        Ok(_) => return Err(Error::Usage(format!("`{}` is empty", args.env_var))),
        Err(std::env::VarError::NotPresent) => {
            return Err(Error::Usage(format!(
                "`{}` is not set: export the key to verify in it (or name another variable \
                 with --env-var)",
                args.env_var
            )));
        }
        Err(std::env::VarError::NotUnicode(_)) => {
            return Err(Error::Usage(format!(
                "`{}` is not valid UTF-8",
                args.env_var
            )));
        }
    };
    if header_name_invalid(&args.header) {
        return Err(Error::Usage(format!(
            "`{}` is not a valid header name",
            args.header
        )));
    }
    let verdict = verify(
        &args.url,
        args.auth,
        &args.header,
        key.trim(),
        Duration::from_secs(args.timeout.max(1)),
    );
    drop(key);
    let detail = match &verdict {
        Verdict::Valid(status) => format!("the server accepted the key (HTTP {status})"),
        Verdict::Invalid(status) => format!(
            "the server refused the key (HTTP {status}): it is wrong, revoked, or lacks access; \
             do not revoke the old key yet"
        ),
        Verdict::Unexpected(status) => {
            format!("unexpected answer HTTP {status}: neither accepted (2xx) nor refused (401/403)")
        }
        Verdict::Unreachable(reason) => format!("no answer: {reason}"),
    };
    match args.format {
        Format::Json | Format::Sarif => {
            let value = json!({
                "command": "verify-key",
                "env_var": args.env_var,
                "url": args.url,
                "auth": match args.auth { Auth::Header => "header", Auth::Bearer => "bearer" },
                "result": verdict.name(),
                "status": verdict.status(),
                "detail": detail,
            });
            serde_json::to_writer_pretty(&mut *out, &value).map_err(|e| Error::io("writing", e))?;
            writeln!(out)?;
        }
        Format::Text => writeln!(
            out,
            "{}: {} (GET {}): {detail}",
            args.env_var,
            verdict.name(),
            args.url
        )?,
    }
    match verdict {
        Verdict::Valid(_) => Ok(Outcome::Clean),
        Verdict::Invalid(_) | Verdict::Unexpected(_) => Ok(Outcome::Findings),
        Verdict::Unreachable(_) => Err(Error::Io(format!("{} is unreachable", args.url))),
    }
}

fn header_name_invalid(name: &str) -> bool {
    name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}
