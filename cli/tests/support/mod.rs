//! Helpers shared by the end-to-end tests: run the real `pared` binary,
//! talk raw HTTP to it over loopback, all with bounded waits.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The runtimes every end-to-end scenario runs on.
pub const RUNTIMES: [&str; 2] = ["std", "smol"];

/// Generates one `#[test]` per runtime for each scenario function.
#[macro_export]
macro_rules! per_runtime {
    ($($name:ident),* $(,)?) => {
        mod std_runtime {
            $(#[test] fn $name() { super::$name("std") })*
        }
        mod smol_runtime {
            $(#[test] fn $name() { super::$name("smol") })*
        }
    };
}

pub fn pared() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_pared"))
}

/// A running `pared server`, stopped (by its PID) when dropped.
pub struct Server {
    pub child: Child,
    pub port: u16,
    pub root: PathBuf,
    pub stderr: Option<std::process::ChildStderr>,
}

impl Server {
    /// Starts `pared --runtime RT server 0 --root ROOT --quiet ARGS...`.
    pub fn start(runtime: &str, root: &Path, args: &[&str]) -> Server {
        Server::start_with(runtime, root, args, true)
    }

    /// Like [`Server::start`], choosing whether to pass `--quiet`.
    pub fn start_with(runtime: &str, root: &Path, args: &[&str], quiet: bool) -> Server {
        Server::start_under(&[], runtime, root, args, quiet)
    }

    /// Like [`Server::start_with`], run by the command `wrapper` (e.g.
    /// `unshare --pid --fork --mount-proc --kill-child`), which must
    /// pass pared's stdout on and end pared when it is killed.
    pub fn start_under(
        wrapper: &[&str],
        runtime: &str,
        root: &Path,
        args: &[&str],
        quiet: bool,
    ) -> Server {
        let mut cmd = match wrapper.split_first() {
            Some((first, rest)) => {
                let mut c = Command::new(first);
                c.args(rest).arg(pared());
                c
            }
            None => Command::new(pared()),
        };
        cmd.args(["--runtime", runtime, "server", "0", "--root"])
            .arg(root)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if quiet {
            cmd.arg("--quiet");
        }
        let mut child = cmd.spawn().expect("start pared server");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("start-up line");
        let port = line
            .split("(port ")
            .nth(1)
            .and_then(|s| s.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no port in start-up line {line:?}"));
        let stderr = child.stderr.take();
        Server {
            child,
            port,
            root: root.to_owned(),
            stderr,
        }
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{}", self.port, path)
    }

    pub fn connect(&self) -> TcpStream {
        let s = TcpStream::connect(self.addr()).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.set_write_timeout(Some(Duration::from_secs(10))).unwrap();
        s
    }

    /// Sends SIGTERM to our child and waits (bounded) for its exit status.
    pub fn terminate(&mut self, within: Duration) -> Option<std::process::ExitStatus> {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        wait_exit(&mut self.child, within)
    }

    /// Everything the server wrote to stderr (after it exited).
    pub fn stderr_text(&mut self) -> String {
        let mut s = String::new();
        if let Some(mut e) = self.stderr.take() {
            let _ = e.read_to_string(&mut s);
        }
        s
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn wait_exit(child: &mut Child, within: Duration) -> Option<std::process::ExitStatus> {
    let end = Instant::now() + within;
    while Instant::now() < end {
        if let Ok(Some(st)) = child.try_wait() {
            return Some(st);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

/// A parsed response as raw parts.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub head: String,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<String> {
        self.head.lines().skip(1).find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_owned())
        })
    }
}

/// Reads one response whose body is framed by Content-Length (or until close).
pub fn read_response(s: &mut TcpStream, head_request: bool) -> Response {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        match s.read(&mut byte) {
            Ok(1) => buf.push(byte[0]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            other => panic!(
                "connection ended in head ({other:?}) after {:?}",
                String::from_utf8_lossy(&buf)
            ),
        }
    }
    let head = String::from_utf8_lossy(&buf).into_owned();
    let status = head[9..12].parse().expect("status");
    let mut r = Response {
        status,
        head,
        body: Vec::new(),
    };
    let len = r
        .header("content-length")
        .and_then(|v| v.parse::<usize>().ok());
    if head_request || status == 304 {
        return r;
    }
    match len {
        Some(n) => {
            r.body = vec![0; n];
            s.read_exact(&mut r.body).expect("body");
        }
        None => {
            s.read_to_end(&mut r.body).expect("body");
        }
    }
    r
}

/// Sends raw bytes on a new connection and reads one response.
pub fn raw(server: &Server, request: &[u8]) -> Response {
    let mut s = server.connect();
    s.write_all(request).expect("send");
    let head_req = request.starts_with(b"HEAD ");
    read_response(&mut s, head_req)
}

/// A simple HTTP/1.0 GET.
pub fn get(server: &Server, path: &str) -> Response {
    raw(server, format!("GET {path} HTTP/1.0\r\n\r\n").as_bytes())
}

/// An HTTP/1.0 PUT with a body.
pub fn put(server: &Server, path: &str, body: &[u8]) -> Response {
    let mut s = server.connect();
    s.write_all(
        format!(
            "PUT {path} HTTP/1.0\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .as_bytes(),
    )
    .expect("send head");
    s.write_all(body).expect("send body");
    let _ = s.shutdown(Shutdown::Write);
    read_response(&mut s, false)
}

/// A temporary root with a few files.
pub fn fixture() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let r = dir.path();
    std::fs::write(r.join("hello.txt"), b"hello\n").unwrap();
    std::fs::create_dir(r.join("sub")).unwrap();
    std::fs::write(r.join("sub/index.html"), b"<p>index</p>\n").unwrap();
    std::fs::create_dir(r.join("list")).unwrap();
    std::fs::write(r.join("list/b.txt"), b"b").unwrap();
    std::fs::write(r.join("list/<a>&.txt"), b"a").unwrap();
    std::fs::write(r.join("list/.hidden"), b"h").unwrap();
    std::fs::write(r.join(".secret"), b"dot").unwrap();
    dir
}

/// Runs `pared --runtime RT client ARGS...` with a time bound.
pub fn client(runtime: &str, args: &[&str]) -> Output {
    client_with_env(runtime, args, &[])
}

/// Like [`client`], with extra environment variables.
pub fn client_with_env(runtime: &str, args: &[&str], env: &[(&str, &Path)]) -> Output {
    let mut child = Command::new(pared())
        .args(["--runtime", runtime, "client"])
        .args(args)
        .envs(env.iter().map(|(k, v)| (*k, *v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start pared client");
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let t_out = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out.read_to_end(&mut v);
        v
    });
    let t_err = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = err.read_to_end(&mut v);
        v
    });
    let status = match wait_exit(&mut child, Duration::from_secs(60)) {
        Some(s) => s,
        None => {
            let _ = child.kill();
            panic!("client did not finish in 60 s: {args:?}");
        }
    };
    Output {
        status,
        stdout: t_out.join().unwrap_or_default(),
        stderr: t_err.join().unwrap_or_default(),
    }
}

/// Panics with a clear message when an interop tool is missing.
pub fn require_tool(name: &str) {
    let ok = Command::new("sh")
        .args(["-c", &format!("command -v {name}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "{name} is not installed; .ci/run installs it (apt-get install {name})"
    );
}

/// Pseudo-random bytes (xorshift), reproducible without a dependency.
pub fn random_bytes(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    let mut v = Vec::with_capacity(n);
    while v.len() < n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.extend_from_slice(&x.to_le_bytes());
    }
    v.truncate(n);
    v
}

/// `python3 -m http.server` on a free port, stopped by PID when dropped.
pub struct PyServer(pub Child, pub u16);

impl Drop for PyServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts Python's http.server on `dir`, on a port it picks and reports.
pub fn python_server(dir: &Path) -> PyServer {
    require_tool("python3");
    let script = r#"
import functools, http.server, sys
h = functools.partial(http.server.SimpleHTTPRequestHandler, directory=sys.argv[1])
class Quiet(h.func):
    def log_message(self, *a): pass
s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=sys.argv[1]))
print(s.server_address[1], flush=True)
s.serve_forever()
"#;
    let mut child = Command::new("python3")
        .args(["-c", script])
        .arg(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("python3");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port = line.trim().parse().expect("port");
    PyServer(child, port)
}

/// A free loopback port (bound and released: good enough for a test).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// An nginx in the foreground with a config of ours, stopped by PID.
pub struct Nginx {
    pub child: Child,
    pub port: u16,
    _dir: tempfile::TempDir,
}

impl Nginx {
    /// Starts nginx with `http_body` (the inside of `http { }`, where
    /// `{port}` is the port to listen on) and waits until it accepts.
    pub fn start(http_body: &str) -> Nginx {
        Nginx::start_at(free_port(), http_body)
    }

    /// Like [`Nginx::start`], on `port` (to start it again where an
    /// earlier one listened).
    pub fn start_at(port: u16, http_body: &str) -> Nginx {
        require_tool("nginx");
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().display().to_string();
        let conf = format!(
            "user root;\nworker_processes 1;\npid {p}/nginx.pid;\nerror_log {p}/error.log;\n\
             events {{ worker_connections 256; }}\n\
             http {{\n  access_log off;\n  client_body_temp_path {p}/body;\n  \
             proxy_temp_path {p}/proxy;\n  fastcgi_temp_path {p}/fcgi;\n  uwsgi_temp_path {p}/uwsgi;\n  \
             scgi_temp_path {p}/scgi;\n{}\n}}\n",
            http_body.replace("{port}", &port.to_string())
        );
        std::fs::write(dir.path().join("nginx.conf"), conf).unwrap();
        let child = Command::new("nginx")
            .args(["-e", &format!("{p}/error.log"), "-p", &p, "-c"])
            .arg(dir.path().join("nginx.conf"))
            .args(["-g", "daemon off;"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start nginx");
        let end = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < end,
                "nginx did not start: {}",
                std::fs::read_to_string(dir.path().join("error.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Nginx {
            child,
            port,
            _dir: dir,
        }
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGQUIT would be graceful; SIGKILL on the master we started is
        // enough, and its workers exit when their master goes.
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        if wait_exit(&mut self.child, Duration::from_secs(5)).is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Panics with a clear message when a Python module is missing.
pub fn require_python_module(name: &str) {
    require_tool("python3");
    let ok = Command::new("python3")
        .args(["-c", &format!("import {name}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "python3 module {name} is missing; .ci/run installs it (pip install {name})"
    );
}

/// A server answering each connection with the next reply (`None`: read
/// the request and say nothing until the client leaves); joined, it gives
/// the request heads it saw. For client tests.
pub fn scripted_server(
    replies: Vec<Option<Vec<u8>>>,
) -> (u16, std::thread::JoinHandle<Vec<String>>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let h = std::thread::spawn(move || {
        let mut heads = Vec::new();
        for reply in replies {
            let Ok((mut s, _)) = listener.accept() else {
                break;
            };
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            let mut head = Vec::new();
            let mut b = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && s.read(&mut b).unwrap_or(0) == 1 {
                head.push(b[0]);
            }
            heads.push(String::from_utf8_lossy(&head).into_owned());
            match reply {
                Some(bytes) => {
                    let _ = s.write_all(&bytes);
                }
                None => {
                    let mut sink = Vec::new();
                    let _ = s.read_to_end(&mut sink);
                }
            }
        }
        heads
    });
    (port, h)
}

/// A connection to `server` from the loopback address `from` (127.0.0.x),
/// with a receive buffer of `rcvbuf` bytes set before it connects.
pub fn connect_from(server: &Server, from: &str, rcvbuf: Option<usize>) -> TcpStream {
    use rustix::net::{AddressFamily, SocketType};
    let fd: std::os::fd::OwnedFd =
        rustix::net::socket(AddressFamily::INET, SocketType::STREAM, None).expect("socket");
    if let Some(n) = rcvbuf {
        rustix::net::sockopt::set_socket_recv_buffer_size(&fd, n).unwrap();
    }
    let local: std::net::IpAddr = from.parse().unwrap();
    rustix::net::bind(&fd, &std::net::SocketAddr::new(local, 0)).expect("bind");
    let remote: std::net::SocketAddr = server.addr().parse().unwrap();
    rustix::net::connect(&fd, &remote).expect("connect");
    let s = TcpStream::from(fd);
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

/// One probe from `from`: a GET that must be answered within 3 s.
pub fn probe(server: &Server, from: &str) -> bool {
    let start = Instant::now();
    let mut s = connect_from(server, from, None);
    s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    if s.write_all(b"GET /hello.txt HTTP/1.0\r\n\r\n").is_err() {
        return false;
    }
    let mut buf = Vec::new();
    let ok = s.read_to_end(&mut buf).is_ok() && buf.starts_with(b"HTTP/1.0 200");
    ok && start.elapsed() < Duration::from_secs(3)
}

/// How many of `n` probes from `from` pass.
pub fn probes_pass(server: &Server, from: &str, n: usize) -> usize {
    (0..n).filter(|_| probe(server, from)).count()
}

/// Sends `text` then `body` on a new connection to `port` (loopback) and
/// reads one response (20 s at most).
pub fn request_to(port: u16, text: &str, body: &[u8]) -> Response {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.write_all(text.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    read_response(&mut s, false)
}

/// A one-shot proxy to `upstream` that forwards the request and then only
/// the first `keep` bytes of the response before closing: an interrupted
/// download, made with any real server behind it.
pub fn cutting_proxy(upstream: u16, keep: usize) -> (u16, std::thread::JoinHandle<()>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = std::thread::spawn(move || {
        let Ok((mut down, _)) = listener.accept() else {
            return;
        };
        down.set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut head = Vec::new();
        let mut b = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") && down.read(&mut b).unwrap_or(0) == 1 {
            head.push(b[0]);
        }
        let mut up = TcpStream::connect(("127.0.0.1", upstream)).unwrap();
        up.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        up.write_all(&head).unwrap();
        let mut left = keep;
        let mut buf = vec![0u8; 16 * 1024];
        while left > 0 {
            let n = match up.read(&mut buf[..left.min(16 * 1024)]) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            if down.write_all(&buf[..n]).is_err() {
                break;
            }
            left -= n;
        }
    });
    (port, handle)
}

/// `pared --runtime RT server 0 ARGS... --root ROOT` with its stdout to
/// read line by line (stderr dropped): for tests of the start-up lines.
/// The caller kills the child.
pub fn spawn_server_lines(
    rt: &str,
    root: &Path,
    args: &[&str],
) -> (Child, BufReader<std::process::ChildStdout>) {
    let mut child = Command::new(pared())
        .args(["--runtime", rt, "server", "0"])
        .args(args)
        .arg("--root")
        .arg(root)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start pared server");
    let out = BufReader::new(child.stdout.take().expect("stdout"));
    (child, out)
}

/// The size of the largest resumable-upload temporary in `dir` (0 when
/// there is none): how far an upload in progress has come.
pub fn resumable_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .filter(|e| {
                    e.file_name()
                        .to_string_lossy()
                        .starts_with(".pared-resumable-")
                })
                .map(|e| e.metadata().map_or(0, |m| m.len()))
                .max()
                .unwrap_or(0)
        })
        .unwrap_or(0)
}

/// Runs `pared share ARGS...`, which must succeed: the link (stdout) and
/// what it said about it (stderr).
pub fn share(args: &[&str]) -> (String, String) {
    let out = Command::new(pared())
        .arg("share")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("pared share");
    assert!(out.status.success(), "{out:?}");
    (
        String::from_utf8(out.stdout).unwrap().trim().to_owned(),
        String::from_utf8(out.stderr).unwrap(),
    )
}
