//! The lab's application: a tiny HTTP/1.0 "bank" whose replies repeat what identifies each
//! request (path, cookie, user), so both directions of a capture carry recognisable secrets.

use sha2::{Digest, Sha256};

/// Largest request the server reads.
pub const MAX_REQUEST: usize = 64 * 1024;

/// True once `data` holds a whole request: headers, and a body as long as Content-Length.
pub fn request_complete(data: &[u8]) -> bool {
    let Some((end, body_start)) = head_end(data) else {
        return false;
    };
    let head = String::from_utf8_lossy(&data[..end]);
    let body_len = header(&head, "content-length")
        .and_then(|v| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    data.len() >= body_start + body_len
}

/// Where the head ends and the body starts: at the first empty line, CRLF or (RFC 9112 §2.2
/// lets a recipient accept it) a bare LF, as tlsfuzzer's `GET / HTTP/1.0\n\n` ends.
fn head_end(data: &[u8]) -> Option<(usize, usize)> {
    let crlf = find(data, b"\r\n\r\n").map(|i| (i, i + 4));
    let lf = find(data, b"\n\n").map(|i| (i, i + 2));
    match (crlf, lf) {
        (Some(a), Some(b)) => Some(if a.0 <= b.0 { a } else { b }),
        (a, b) => a.or(b),
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().skip(1).find_map(|line| {
        let (k, v) = line.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then_some(v.trim())
    })
}

fn form_value<'a>(body: &'a str, key: &str) -> Option<&'a str> {
    body.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == key).then_some(v)
    })
}

/// A stable number for a user, so balances and notes differ per user and repeat per run.
fn user_number(user: &str) -> u64 {
    let d = Sha256::digest(user.as_bytes());
    u64::from_be_bytes([d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]])
}

/// The reply to one request, a whole HTTP/1.0 response.
pub fn respond(request: &[u8]) -> Vec<u8> {
    let (status, body) = match build_body(request) {
        Some(b) => ("200 OK", b),
        None => (
            "400 Bad Request",
            "pfslab bank: that was not an HTTP request.\n".to_string(),
        ),
    };
    format!(
        "HTTP/1.0 {status}\r\nServer: pfslab-bank\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn build_body(request: &[u8]) -> Option<String> {
    let (end, body_start) = head_end(request)?;
    let head = std::str::from_utf8(&request[..end]).ok()?;
    let body = String::from_utf8_lossy(&request[body_start..]);
    let mut parts = head.lines().next()?.split_whitespace();
    let (method, path, version) = (parts.next()?, parts.next()?, parts.next()?);
    if !version.starts_with("HTTP/") {
        return None;
    }
    let mut out = format!("pfslab bank: you asked for {method} {path}\n");
    if let Some(cookie) = header(head, "cookie") {
        out.push_str(&format!("your cookie: {cookie}\n"));
    }
    match (path, form_value(&body, "user")) {
        ("/login", Some(user)) => {
            let n = user_number(user);
            let has_password = form_value(&body, "password").is_some_and(|p| !p.is_empty());
            if has_password {
                out.push_str(&format!(
                    "welcome, {user}. your balance is ${}.{:02}\n",
                    n % 100_000,
                    (n / 100_000) % 100
                ));
                out.push_str(&format!(
                    "secret note for {user}: the vault code is {:04}\n",
                    (n / 10_000_000) % 10_000
                ));
            } else {
                out.push_str("login refused: no password\n");
            }
        }
        _ if !body.is_empty() => out.push_str(&format!("you sent {} bytes: {body}\n", body.len())),
        _ => out.push_str("nothing to see here; try POST /login with user=…&password=…\n"),
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_reply_repeats_request_and_carries_secrets() {
        let req = b"POST /login HTTP/1.0\r\nCookie: session=abc\r\nContent-Length: 29\r\n\r\nuser=alice&password=hunter2!!";
        assert!(request_complete(req));
        assert!(!request_complete(&req[..req.len() - 1]));
        let reply = String::from_utf8(respond(req)).unwrap();
        assert!(reply.starts_with("HTTP/1.0 200 OK\r\n"));
        assert!(reply.contains("POST /login"));
        assert!(reply.contains("session=abc"));
        assert!(reply.contains("welcome, alice. your balance is $"));
        assert!(reply.contains("vault code"));
        let bob = String::from_utf8(respond(
            b"POST /login HTTP/1.0\r\nContent-Length: 22\r\n\r\nuser=bob&password=pw12",
        ))
        .unwrap();
        assert_ne!(reply.lines().last(), bob.lines().last());
    }

    #[test]
    fn a_bare_lf_request_is_answered_rfc9112_2_2() {
        // tlsfuzzer's request: LF line ends only.
        let req = b"GET / HTTP/1.0\n\n";
        assert!(request_complete(req));
        assert!(!request_complete(b"GET / HTTP/1.0\n"));
        let reply = String::from_utf8(respond(req)).unwrap();
        assert!(reply.starts_with("HTTP/1.0 200 OK\r\n"), "{reply}");
        let post = b"POST /login HTTP/1.0\nContent-Length: 9\n\nuser=carl";
        assert!(request_complete(post));
        assert!(!request_complete(&post[..post.len() - 1]));
    }

    #[test]
    fn garbage_gets_400() {
        assert!(String::from_utf8(respond(b"\x00\x01\r\n\r\n"))
            .unwrap()
            .starts_with("HTTP/1.0 400"));
        assert!(String::from_utf8(respond(b"GET /x\r\n\r\n"))
            .unwrap()
            .starts_with("HTTP/1.0 400"));
    }
}
