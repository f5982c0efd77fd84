//! No lost updates behind a load balancer: two pared processes (one std,
//! one smol) serve one root behind nginx; 16 clients run
//! read-modify-write loops with If-Match for a bounded time. The final
//! counter must equal the number of successful writes, and every refused
//! write must have been a 412. Then 16 clients race to create the same
//! names with If-None-Match: *: exactly one winner per name.

mod support;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use support::*;

fn balancer(a: &Server, b: &Server) -> Nginx {
    Nginx::start(&format!(
        "upstream pared {{ server 127.0.0.1:{}; server 127.0.0.1:{}; }}\n\
         server {{ listen 127.0.0.1:{{port}};\n\
           client_max_body_size 0;\n\
           location / {{ proxy_pass http://pared; proxy_next_upstream off;\n             proxy_set_header Host $host; }} }}",
        a.port, b.port
    ))
}

#[test]
fn read_modify_write_behind_nginx_loses_nothing() {
    let root = tempfile::tempdir().unwrap();
    std::fs::write(root.path().join("counter.txt"), b"0").unwrap();
    let a = Server::start("std", root.path(), &[]);
    let b = Server::start("smol", root.path(), &[]);
    let lb = balancer(&a, &b);
    let port = lb.port;
    let ok = Arc::new(AtomicU64::new(0));
    let refused = Arc::new(AtomicU64::new(0));
    let end = Instant::now() + Duration::from_secs(4);
    let workers: Vec<_> = (0..16)
        .map(|_| {
            let (ok, refused) = (ok.clone(), refused.clone());
            std::thread::spawn(move || {
                let mut rounds = 0;
                while Instant::now() < end && rounds < 2_000 {
                    rounds += 1;
                    let r = request_to(
                        port,
                        "GET /counter.txt HTTP/1.0\r\nHost: localhost\r\n\r\n",
                        b"",
                    );
                    assert_eq!(r.status, 200);
                    let etag = r.header("etag").expect("etag");
                    let n: u64 = String::from_utf8_lossy(&r.body).parse().expect("number");
                    let body = (n + 1).to_string();
                    let w = request_to(
                        port,
                        &format!(
                            "PUT /counter.txt HTTP/1.0\r\nHost: localhost\r\nIf-Match: {etag}\r\n\
                             Content-Length: {}\r\n\r\n",
                            body.len()
                        ),
                        body.as_bytes(),
                    );
                    match w.status {
                        200 => ok.fetch_add(1, Ordering::SeqCst),
                        412 => refused.fetch_add(1, Ordering::SeqCst),
                        s => panic!("unexpected status {s}: {}", w.head),
                    };
                }
            })
        })
        .collect();
    for w in workers {
        w.join().expect("worker");
    }
    let ok = ok.load(Ordering::SeqCst);
    let refused = refused.load(Ordering::SeqCst);
    let final_value: u64 = std::fs::read_to_string(root.path().join("counter.txt"))
        .unwrap()
        .parse()
        .unwrap();
    assert!(ok > 0, "no update succeeded");
    assert!(
        refused > 0,
        "no contention happened: the test proves nothing"
    );
    assert_eq!(
        final_value, ok,
        "lost updates: {ok} succeeded, counter says {final_value} ({refused} refused)"
    );
    // Both processes served: check each one's view.
    for s in [&a, &b] {
        assert_eq!(
            get(s, "/counter.txt").body,
            final_value.to_string().as_bytes()
        );
    }
}

#[test]
fn create_only_has_one_winner_per_name() {
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir(root.path().join("new")).unwrap();
    let a = Server::start("std", root.path(), &[]);
    let b = Server::start("smol", root.path(), &[]);
    let lb = balancer(&a, &b);
    let port = lb.port;
    let names = 20;
    let wins: Arc<Vec<AtomicU64>> = Arc::new((0..names).map(|_| AtomicU64::new(0)).collect());
    let workers: Vec<_> = (0..16)
        .map(|w| {
            let wins = wins.clone();
            std::thread::spawn(move || {
                for k in 0..names {
                    let body = format!("writer {w}");
                    let r = request_to(
                        port,
                        &format!(
                            "PUT /new/{k}.txt HTTP/1.0\r\nHost: localhost\r\nIf-None-Match: *\r\n\
                             Content-Length: {}\r\n\r\n",
                            body.len()
                        ),
                        body.as_bytes(),
                    );
                    match r.status {
                        201 => {
                            wins[k].fetch_add(1, Ordering::SeqCst);
                        }
                        412 => {}
                        s => panic!("unexpected status {s}"),
                    }
                }
            })
        })
        .collect();
    for w in workers {
        w.join().expect("worker");
    }
    for (k, n) in wins.iter().enumerate() {
        assert_eq!(n.load(Ordering::SeqCst), 1, "winners for {k}.txt");
    }
}
