//! Several pared hosts on one shared file system, proven on GlusterFS
//! (issue "Outgrowing one machine"): a replica-2 volume on two bricks of
//! this machine, mounted twice with FUSE as two hosts would mount it
//! (`scripts/gluster-up.sh`, which needs root and glusterfs-server and
//! glusterfs-client: `.ci/run` installs them). pared std serves one mount,
//! pared smol the other, nginx balances between them. The two "hosts"
//! share a kernel, so the second host's own process space is made with a
//! PID namespace (`unshare --pid --fork --mount-proc`).

mod support;

use std::io::Write;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use support::*;

/// The two mounts, with a fresh folder for this run on each (the same
/// folder seen through both).
fn mounts() -> (PathBuf, PathBuf) {
    let up = Command::new("bash")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../scripts/gluster-up.sh"
        ))
        .output()
        .expect("run scripts/gluster-up.sh");
    assert!(
        up.status.success(),
        "GlusterFS is not up (run as root with glusterfs-server and glusterfs-client; \
         .ci/run installs them): {}",
        String::from_utf8_lossy(&up.stderr)
    );
    let text = String::from_utf8_lossy(&up.stdout).into_owned();
    let mut lines = text.lines().map(PathBuf::from);
    let (a, b) = (
        lines.next().expect("mount a"),
        lines.next().expect("mount b"),
    );
    let run = format!(
        "run-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    std::fs::create_dir(a.join(&run)).unwrap();
    std::fs::write(a.join(&run).join("hello.txt"), b"hello\n").unwrap();
    // The other mount sees the folder (entry caches are off).
    let end = Instant::now() + Duration::from_secs(10);
    while !b.join(&run).join("hello.txt").exists() {
        assert!(
            Instant::now() < end,
            "the second mount never saw the folder"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    (a.join(&run), b.join(&run))
}

fn put(port: u16, path: &str, headers: &str, body: &[u8]) -> Response {
    request_to(
        port,
        &format!(
            "PUT {path} HTTP/1.0\r\nHost: localhost\r\n{headers}Content-Length: {}\r\n\r\n",
            body.len()
        ),
        body,
    )
}

fn get(port: u16, path: &str) -> Response {
    request_to(
        port,
        &format!("GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n"),
        b"",
    )
}

fn balancer(a: &Server, b: &Server) -> Nginx {
    Nginx::start(&format!(
        "upstream pared {{ server 127.0.0.1:{}; server 127.0.0.1:{}; }}\n\
         server {{ listen 127.0.0.1:{{port}};\n\
           client_max_body_size 0;\n\
           location / {{ proxy_pass http://pared; proxy_next_upstream off;\n\
             proxy_set_header Host $host; }} }}",
        a.port, b.port
    ))
}

#[test]
fn two_hosts_on_glusterfs() {
    let (root_a, root_b) = mounts();
    let mut a = Server::start("std", &root_a, &[]);
    let b = Server::start("smol", &root_b, &[]);

    // The same ETag from both hosts, and the other host's digest is used.
    let stored = put(a.port, "/same.txt", "", b"one version\n");
    assert_eq!(stored.status, 201);
    let (ea, eb) = (get(a.port, "/same.txt"), get(b.port, "/same.txt"));
    assert_eq!(ea.status, 200);
    assert_eq!(eb.status, 200);
    assert_eq!(
        ea.header("etag"),
        eb.header("etag"),
        "one ETag on every host"
    );
    assert!(ea.header("etag").is_some());
    let cond = request_to(
        b.port,
        &format!(
            "GET /same.txt HTTP/1.0\r\nHost: localhost\r\nIf-None-Match: {}\r\n\r\n",
            ea.header("etag").unwrap()
        ),
        b"",
    );
    assert_eq!(cond.status, 304, "a validator from host A holds on host B");

    // 8 clients x 20 If-Match increments through nginx: none lost, no 500.
    std::fs::write(root_a.join("counter.txt"), b"0").unwrap();
    let lb = balancer(&a, &b);
    let port = lb.port;
    let server_errors = Arc::new(AtomicU64::new(0));
    let end = Instant::now() + Duration::from_secs(240);
    let workers: Vec<_> = (0..8)
        .map(|_| {
            let errors = server_errors.clone();
            std::thread::spawn(move || {
                let mut done = 0;
                let mut tries = 0;
                let mut last: Vec<u16> = Vec::new();
                let mut why = String::new();
                while done < 20 {
                    tries += 1;
                    assert!(
                        tries < 5_000 && Instant::now() < end,
                        "no progress: {done} done in {tries} tries, last statuses {:?}, {why}",
                        &last[last.len().saturating_sub(12)..]
                    );
                    let r = get(port, "/counter.txt");
                    last.push(r.status);
                    if r.status >= 500 {
                        errors.fetch_add(u64::from(r.status == 500), Ordering::Relaxed);
                        continue;
                    }
                    assert_eq!(r.status, 200);
                    let etag = r.header("etag").expect("etag");
                    let n: u64 = String::from_utf8_lossy(&r.body)
                        .trim()
                        .parse()
                        .expect("number");
                    let w = put(
                        port,
                        "/counter.txt",
                        &format!("If-Match: {etag}\r\n"),
                        (n + 1).to_string().as_bytes(),
                    );
                    last.push(w.status);
                    if w.status >= 500 {
                        why = format!("{} {}", w.head, String::from_utf8_lossy(&w.body));
                    }
                    match w.status {
                        200 | 204 => done += 1,
                        412 => {}
                        s if s >= 500 => {
                            errors.fetch_add(u64::from(s == 500), Ordering::Relaxed);
                        }
                        s => panic!("unexpected status {s}"),
                    }
                }
            })
        })
        .collect();
    // Readers on both hosts meanwhile: a stale handle must never be a 500.
    let readers: Vec<_> = [a.port, b.port]
        .into_iter()
        .map(|p| {
            let errors = server_errors.clone();
            std::thread::spawn(move || {
                let stop = Instant::now() + Duration::from_secs(5);
                while Instant::now() < stop {
                    if get(p, "/counter.txt").status == 500 {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for w in workers.into_iter().chain(readers) {
        w.join().expect("worker");
    }
    for p in [a.port, b.port] {
        assert_eq!(get(p, "/counter.txt").body, b"160", "no lost update");
    }
    assert_eq!(server_errors.load(Ordering::Relaxed), 0, "no 500");

    // 16-way create-only races: exactly one winner per name.
    for k in 0..3 {
        let wins = Arc::new(AtomicU64::new(0));
        let racers: Vec<_> = (0..16)
            .map(|i| {
                let wins = wins.clone();
                std::thread::spawn(move || {
                    let r = put(
                        port,
                        &format!("/race-{k}.txt"),
                        "If-None-Match: *\r\n",
                        format!("racer {i}").as_bytes(),
                    );
                    match r.status {
                        201 => {
                            wins.fetch_add(1, Ordering::Relaxed);
                        }
                        412 => {}
                        s => panic!("unexpected status {s}"),
                    }
                })
            })
            .collect();
        for r in racers {
            r.join().expect("racer");
        }
        assert_eq!(wins.load(Ordering::Relaxed), 1, "race {k}");
    }
    drop(lb);

    // A live upload on host A survives host B's start-up sweep, B being a
    // process space of its own (its PIDs mean nothing on A).
    let mut up = a.connect();
    let total = 1_000_000usize;
    let body = random_bytes(total, 21);
    up.write_all(
        format!("PUT /slow.bin HTTP/1.0\r\nHost: localhost\r\nContent-Length: {total}\r\n\r\n")
            .as_bytes(),
    )
    .unwrap();
    up.write_all(&body[..1000]).unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let temporaries = || {
        std::fs::read_dir(&root_b)
            .unwrap()
            .flatten()
            .filter(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with(".pared-upload-")
            })
            .count()
    };
    assert_eq!(temporaries(), 1, "the upload's temporary, seen from host B");
    let other = Server::start_under(
        &["unshare", "--pid", "--fork", "--mount-proc", "--kill-child"],
        "smol",
        &root_b,
        &[],
        true,
    );
    // Its start-up sweep walks the root now.
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        temporaries(),
        1,
        "host B's sweep left the live upload alone"
    );
    drop(other);
    up.write_all(&body[1000..]).unwrap();
    let r = read_response(&mut up, false);
    assert_eq!(r.status, 201);
    assert_eq!(std::fs::read(root_b.join("slow.bin")).unwrap(), body);

    // Host A said at start-up what a shared root needs.
    let _ = a.terminate(Duration::from_secs(10));
    assert!(a.stderr_text().contains("the root is on FUSE"));
    let _ = std::fs::remove_dir_all(&root_a);
}
