//! `cargo clay verify-key` against a local server on 127.0.0.1 that answers canned responses.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use common::*;

/// Serves one request with `status`; the request's head (lower-cased) comes back on the
/// channel.
fn serve_once(status: &str) -> (String, mpsc::Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
    let address = listener.local_addr().expect("local address");
    let (tx, rx) = mpsc::channel();
    let status = status.to_owned();
    thread::spawn(move || {
        let Ok((stream, _)) = listener.accept() else {
            return;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
        let mut reader = BufReader::new(stream);
        let mut head = String::new();
        loop {
            let mut line = String::new();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) if line == "\r\n" => break,
                Ok(_) => head.push_str(&line),
            }
        }
        let body = "{}";
        let response = format!(
            "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        let mut stream = reader.into_inner();
        let _ = stream.write_all(response.as_bytes());
        let _ = stream.flush();
        let _ = tx.send(head);
    });
    (format!("http://{address}"), rx)
}

const NO_PROXY: [(&str, &str); 6] = [
    ("HTTP_PROXY", ""),
    ("http_proxy", ""),
    ("HTTPS_PROXY", ""),
    ("https_proxy", ""),
    ("ALL_PROXY", ""),
    ("all_proxy", ""),
];

fn verify(args: &[&str], key: Option<&str>) -> Run {
    let mut env: Vec<(&str, &str)> = NO_PROXY.to_vec();
    if let Some(key) = key {
        env.push(("CLAY_API_KEY", key));
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let mut all = vec!["verify-key"];
    all.extend_from_slice(args);
    cargo_clay_env(dir.path(), &all, &env)
}

#[test]
fn valid_key_in_clay_header() {
    let (base, requests) = serve_once("200 OK");
    let url = format!("{base}/public/v0/me");
    let key = live_key();
    let run = verify(&["--url", &url], Some(&key));
    assert_eq!(run.status, 0, "{run:?}");
    assert!(run.stdout.contains("CLAY_API_KEY: valid"), "{}", run.stdout);
    run.assert_hides(std::slice::from_ref(&key));
    let head = requests
        .recv_timeout(Duration::from_secs(10))
        .expect("a request");
    assert!(head.starts_with("GET /public/v0/me HTTP/1.1"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains(&format!("clay-api-key: {}", key.to_ascii_lowercase())),
        "{head}"
    );
    assert!(!head.to_ascii_lowercase().contains("authorization"));
}

#[test]
fn bearer_form_of_the_seed() {
    let (base, requests) = serve_once("200 OK");
    let url = format!("{base}/health");
    let key = test_key();
    let run = verify(
        &["--auth", "bearer", "--url", &url, "--format", "json"],
        Some(&key),
    );
    assert_eq!(run.status, 0, "{run:?}");
    run.assert_hides(std::slice::from_ref(&key));
    let value = run.json();
    assert_eq!(value["result"], "valid");
    assert_eq!(value["status"], 200);
    let head = requests
        .recv_timeout(Duration::from_secs(10))
        .expect("a request");
    assert!(head.starts_with("GET /health HTTP/1.1"), "{head}");
    let bearer = head
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("authorization:"))
        .expect("an authorization header");
    assert_eq!(
        bearer.trim_end(),
        format!("authorization: Bearer {key}").as_str()
    );
}

#[test]
fn refused_keys_are_invalid() {
    for status in ["401 Unauthorized", "403 Forbidden"] {
        let (base, _requests) = serve_once(status);
        let key = live_key();
        let run = verify(&["--url", &format!("{base}/public/v0/me")], Some(&key));
        assert_eq!(run.status, 1, "{status}: {run:?}");
        assert!(run.stdout.contains("invalid"), "{}", run.stdout);
        run.assert_hides(&[key]);
    }
}

#[test]
fn other_statuses_are_unexpected() {
    let (base, _requests) = serve_once("500 Internal Server Error");
    let run = verify(
        &["--url", &format!("{base}/x"), "--format", "json"],
        Some(&live_key()),
    );
    assert_eq!(run.status, 1, "{run:?}");
    assert_eq!(run.json()["result"], "unexpected");
}

#[test]
fn unreachable_server() {
    // A port that was just free: nothing listens there.
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let key = live_key();
    let run = verify(
        &[
            "--url",
            &format!("http://127.0.0.1:{port}/health"),
            "--format",
            "json",
            "--timeout",
            "5",
        ],
        Some(&key),
    );
    assert_eq!(run.status, 2, "{run:?}");
    assert_eq!(run.json()["result"], "unreachable");
    run.assert_hides(&[key]);
}

#[test]
fn missing_variable_is_a_usage_error() {
    let run = verify(&["--env-var", "CLAY_NOT_SET_ANYWHERE"], None);
    assert_eq!(run.status, 2, "{run:?}");
    assert!(
        run.stderr.contains("CLAY_NOT_SET_ANYWHERE"),
        "{}",
        run.stderr
    );
    let run = verify(&["--format", "sarif"], Some("x"));
    assert_eq!(run.status, 2, "sarif is not offered: {run:?}");
}
