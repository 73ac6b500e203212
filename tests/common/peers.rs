//! Real peers: OpenSSL and GnuTLS servers and clients on 127.0.0.1, a parser for
//! `openssl s_client -msg`, and a plain TCP echo server.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use super::{
    complete_lines, free_port, path_str, require_tool, run, Finished, Proc, TestDir, ECDHE,
    READY_TIMEOUT, RSA, RUN_TIMEOUT,
};

// ---------------------------------------------------------------------------------------------
// OpenSSL

/// `openssl ARGS`, which must succeed (key and certificate chores).
pub fn openssl(args: &[&str]) -> Finished {
    require_tool("openssl", "openssl");
    let mut cmd = Command::new("openssl");
    cmd.args(args);
    let done = run(cmd, b"");
    assert!(
        done.status.success(),
        "openssl {args:?} failed: {}",
        done.describe()
    );
    done
}

/// `openssl s_server` on an OS-assigned port of 127.0.0.1, run in `cwd` (with `-WWW` it serves
/// files from there, so keep keys out of it). `args` names the rest: mode, version, suites,
/// key log. `conf` is an `OPENSSL_CONF` file.
pub fn openssl_s_server(
    cwd: &Path,
    key: &Path,
    cert: &Path,
    args: &[&str],
    conf: Option<&Path>,
) -> (Proc, u16) {
    require_tool("openssl", "openssl");
    let mut cmd = Command::new("openssl");
    cmd.current_dir(cwd)
        .args(["s_server", "-accept", "127.0.0.1:0"])
        .args(["-key", path_str(key), "-cert", path_str(cert)])
        .args(args);
    if let Some(conf) = conf {
        cmd.env("OPENSSL_CONF", conf);
    }
    let proc = Proc::spawn(cmd);
    let port = proc.wait_stdout("ACCEPT line", READY_TIMEOUT, |out| {
        let rest = complete_lines(out)
            .lines()
            .find_map(|l| l.strip_prefix("ACCEPT 127.0.0.1:"))?;
        rest.trim().parse::<u16>().ok()
    });
    (proc, port)
}

/// `openssl s_server` serving from `dir/www` (no keys there): `args` starts with the mode,
/// `-www` (a status page naming the session's cipher) or `-WWW` (files), then version, suites
/// and the rest.
pub fn openssl_s_server_www(dir: &TestDir, key: &Path, cert: &Path, args: &[&str]) -> (Proc, u16) {
    let www = dir.join("www");
    std::fs::create_dir_all(&www).expect("mkdir www");
    openssl_s_server(&www, key, cert, args, None)
}

/// `openssl s_server -tls1_2 -www` with the lab's two suites, writing its key log.
pub fn openssl_s_server_logging(
    dir: &TestDir,
    key: &Path,
    cert: &Path,
    keylog: &Path,
    conf: Option<&Path>,
) -> (Proc, u16) {
    let suites = format!("{}:{}", RSA.openssl, ECDHE.openssl);
    let args = [
        "-www",
        "-tls1_2",
        "-cipher",
        &suites,
        "-keylogfile",
        path_str(keylog),
    ];
    openssl_s_server(dir.path(), key, cert, &args, conf)
}

/// An OpenSSL config file that turns extended master secret off (OpenSSL 3.0 has no -no_ems).
pub fn no_ems_openssl_conf(dir: &TestDir) -> PathBuf {
    let conf = dir.join("no-ems.cnf");
    std::fs::write(
        &conf,
        "openssl_conf = openssl_init\n[openssl_init]\nssl_conf = ssl_sect\n[ssl_sect]\n\
         system_default = system_default_sect\n[system_default_sect]\nOptions = -ExtendedMasterSecret\n",
    )
    .expect("write openssl config");
    conf
}

/// `openssl s_client -connect 127.0.0.1:PORT ARGS`: sends `request` and leaves stdin open, so
/// with `-ign_eof` s_client leaves when the server closes the session. `conf` is an
/// `OPENSSL_CONF` file. The exit status is the caller's to check.
pub fn openssl_s_client(port: u16, args: &[&str], request: &str, conf: Option<&Path>) -> Finished {
    require_tool("openssl", "openssl");
    let connect = format!("127.0.0.1:{port}");
    let mut cmd = Command::new("openssl");
    cmd.args(["s_client", "-connect", &connect]).args(args);
    if let Some(conf) = conf {
        cmd.env("OPENSSL_CONF", conf);
    }
    let mut client = Proc::spawn(cmd);
    client.write_stdin(request.as_bytes());
    client.finish(RUN_TIMEOUT)
}

/// [`openssl_s_client`] checking the certificate for `localhost` against `ca`, plus `args`
/// (version, suites, `-msg`, …).
pub fn openssl_s_client_verified(
    port: u16,
    ca: &Path,
    args: &[&str],
    request: &str,
    conf: Option<&Path>,
) -> Finished {
    let mut all = vec!["-servername", "localhost", "-verify_hostname", "localhost"];
    all.extend(["-verify_return_error", "-CAfile", path_str(ca), "-ign_eof"]);
    all.extend_from_slice(args);
    openssl_s_client(port, &all, request, conf)
}

/// `openssl s_client -tls1_2 -quiet` with one suite sends `request` and prints only what the
/// server sent back; it must succeed.
pub fn openssl_s_client_page(
    port: u16,
    cipher: &str,
    request: &str,
    conf: Option<&Path>,
) -> Finished {
    let args = ["-tls1_2", "-cipher", cipher, "-ign_eof", "-quiet"];
    let done = openssl_s_client(port, &args, request, conf);
    assert!(
        done.status.success(),
        "openssl s_client {cipher}: {}",
        done.describe()
    );
    done
}

/// One handshake message as `openssl s_client -msg` showed it crossing the wire.
#[derive(Debug)]
pub struct WireMessage {
    /// true: sent by s_client (`>>>`); false: received (`<<<`).
    pub sent: bool,
    /// `ClientHello`, `ServerHello`, `RecordHeader`, …
    pub name: String,
    pub bytes: Vec<u8>,
}

/// The messages in the output of `openssl s_client -msg`, in order.
pub fn msg_trace(out: &str) -> Vec<WireMessage> {
    let mut msgs: Vec<WireMessage> = Vec::new();
    let mut current: Option<WireMessage> = None;
    for line in out.lines() {
        let header = line
            .strip_prefix(">>> ")
            .map(|r| (true, r))
            .or_else(|| line.strip_prefix("<<< ").map(|r| (false, r)));
        if let Some((sent, rest)) = header {
            msgs.extend(current.take());
            let name = rest.rsplit("], ").next().unwrap_or(rest).trim().to_string();
            current = Some(WireMessage {
                sent,
                name,
                bytes: Vec::new(),
            });
            continue;
        }
        let hex_line = line.strip_prefix("    ").filter(|r| {
            !r.trim().is_empty()
                && r.split_whitespace()
                    .all(|w| w.len() == 2 && w.chars().all(|c| c.is_ascii_hexdigit()))
        });
        match (&mut current, hex_line) {
            (Some(m), Some(h)) => m.bytes.extend(
                h.split_whitespace()
                    .map(|w| u8::from_str_radix(w, 16).expect("hex byte")),
            ),
            _ => msgs.extend(current.take()),
        }
    }
    msgs.extend(current);
    msgs
}

/// (random as hex, cipher suite) of a ServerHello handshake message (with its 4-byte header).
pub fn server_hello_fields(msg: &[u8]) -> (String, u16) {
    assert!(
        msg.len() > 40 && msg[0] == 2,
        "not a ServerHello: {}",
        super::hex(msg)
    );
    let random = super::hex(&msg[6..38]);
    let sid_len = msg[38] as usize;
    let at = 39 + sid_len;
    (random, u16::from_be_bytes([msg[at], msg[at + 1]]))
}

// ---------------------------------------------------------------------------------------------
// GnuTLS

/// `gnutls-serv --http` with `priority` on a free port, retried when another process takes the
/// port first (gnutls-serv cannot pick its own). It binds the wildcard addresses; the tests
/// only connect to 127.0.0.1. `extra` adds options such as `-a` (no client certificate
/// request).
pub fn gnutls_serv(key: &Path, cert: &Path, priority: &str, extra: &[&str]) -> (Proc, u16) {
    require_tool("gnutls-serv", "gnutls-bin");
    let mut last = String::new();
    for _attempt in 0..5 {
        let port = free_port();
        let mut cmd = Command::new("gnutls-serv");
        cmd.args(["--http", "--priority", priority, "-p", &port.to_string()])
            .args(["--x509keyfile", path_str(key)])
            .args(["--x509certfile", path_str(cert)])
            .args(extra);
        let proc = Proc::spawn(cmd);
        let ready = format!("IPv4 0.0.0.0 port {port}...done");
        let outcome = proc.wait_output("listening line", READY_TIMEOUT, |out| {
            if out.contains(&ready) {
                Some(true)
            } else if out.contains("bind() failed") {
                Some(false)
            } else {
                None
            }
        });
        if outcome {
            return (proc, port);
        }
        last = proc.describe();
    }
    panic!("gnutls-serv could not listen after 5 ports: {last}");
}

/// `gnutls-cli --port PORT --priority PRIORITY ARGS 127.0.0.1`: sends `request` and leaves
/// stdin open, so gnutls-cli leaves when the server closes the session. The exit status is the
/// caller's to check.
pub fn gnutls_cli(port: u16, priority: &str, args: &[&str], request: &str) -> Finished {
    require_tool("gnutls-cli", "gnutls-bin");
    let port = port.to_string();
    let mut cmd = Command::new("gnutls-cli");
    cmd.args(["--port", &port, "--priority", priority])
        .args(args)
        .arg("127.0.0.1");
    let mut client = Proc::spawn(cmd);
    client.write_stdin(request.as_bytes());
    client.finish(RUN_TIMEOUT)
}

/// `gnutls-cli --insecure` with TLS 1.2 and one key exchange (`RSA` or `ECDHE-RSA`); `ems`
/// false adds `%NO_SESSION_HASH`. It must succeed.
pub fn gnutls_cli_insecure(port: u16, kx: &str, ems: bool, request: &str) -> Finished {
    let priority = format!(
        "NONE:+VERS-TLS1.2:+AES-128-GCM:+AEAD:+{kx}:+SIGN-ALL:+GROUP-SECP256R1:+COMP-NULL{}",
        if ems { "" } else { ":%NO_SESSION_HASH" }
    );
    let done = gnutls_cli(port, &priority, &["--insecure"], request);
    assert!(
        done.status.success(),
        "gnutls-cli {kx}: {}",
        done.describe()
    );
    done
}

// ---------------------------------------------------------------------------------------------
// Plain TCP

/// A plain TCP echo server on 127.0.0.1 for `connections` connections, in a thread.
pub fn echo_server(connections: usize) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let port = l.local_addr().expect("local_addr").port();
    std::thread::spawn(move || {
        for _ in 0..connections {
            let Ok((mut s, _)) = l.accept() else { return };
            let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
            let mut buf = [0u8; 4096];
            while let Ok(n) = s.read(&mut buf) {
                if n == 0 || s.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    });
    port
}

/// Sends `data` to 127.0.0.1:port, half-closes, and reads everything back (bounded).
pub fn tcp_exchange(port: u16, data: &[u8]) -> Vec<u8> {
    let mut s = TcpStream::connect(("127.0.0.1", port))
        .unwrap_or_else(|e| panic!("connect 127.0.0.1:{port}: {e}"));
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("set_read_timeout");
    s.write_all(data).expect("write");
    s.shutdown(std::net::Shutdown::Write).expect("shutdown");
    let mut back = Vec::new();
    let _ = s.read_to_end(&mut back);
    back
}
