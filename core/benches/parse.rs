//! Request-head parsing throughput: pared-core against httparse (the
//! zero-copy baseline) on the same corpus of real-world heads.
//!
//! `cargo bench -p pared-core --bench parse`

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use pared_core::{Limits, Parsed, RequestParser};

const CORPUS: &[&[u8]] = &[
    b"GET / HTTP/1.1\r\nHost: localhost:8080\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n",
    b"GET /file.bin HTTP/1.1\r\nUser-Agent: Wget/1.21.3\r\nAccept: */*\r\nAccept-Encoding: identity\r\nHost: 127.0.0.1:8080\r\nConnection: Keep-Alive\r\n\r\n",
    b"GET /x HTTP/1.1\r\nHost: 127.0.0.1:8000\r\nAccept-Encoding: identity\r\n\r\n",
    b"GET /small.txt HTTP/1.0\r\nHost: 127.0.0.1\r\nUser-Agent: ApacheBench/2.3\r\nAccept: */*\r\n\r\n",
    b"PUT /up.txt HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\nContent-Length: 52428800\r\nExpect: 100-continue\r\n\r\n",
    b"GET /wp-content/uploads/2024/05/image.png HTTP/1.1\r\nHost: www.example.com\r\nConnection: keep-alive\r\nsec-ch-ua: \"Chromium\";v=\"124\", \"Google Chrome\";v=\"124\", \"Not-A.Brand\";v=\"99\"\r\nsec-ch-ua-mobile: ?0\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36\r\nsec-ch-ua-platform: \"Linux\"\r\nAccept: image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8\r\nSec-Fetch-Site: same-origin\r\nSec-Fetch-Mode: no-cors\r\nSec-Fetch-Dest: image\r\nReferer: https://www.example.com/blog/post\r\nAccept-Encoding: gzip, deflate, br, zstd\r\nAccept-Language: en-US,en;q=0.9\r\nCookie: session=4f8a7c2e9b1d; theme=dark; _ga=GA1.2.1234567890.1700000000\r\n\r\n",
    b"GET /index.html HTTP/1.1\r\nHost: example.org\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0\r\nAccept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\nAccept-Language: en-US,en;q=0.5\r\nAccept-Encoding: gzip, deflate, br\r\nConnection: keep-alive\r\nUpgrade-Insecure-Requests: 1\r\nIf-Modified-Since: Tue, 24 Nov 2026 10:00:00 GMT\r\n\r\n",
];

fn bench(c: &mut Criterion) {
    let bytes: usize = CORPUS.iter().map(|r| r.len()).sum();
    let mut g = c.benchmark_group("parse_request");
    g.throughput(Throughput::Bytes(bytes as u64));
    g.bench_function("pared-core", |b| {
        // One parser per connection, reused for each request, as a server does.
        let mut p = RequestParser::new(Limits::default());
        b.iter(|| {
            for req in CORPUS {
                match p.parse(black_box(req)) {
                    Ok(Parsed::Complete { head, consumed }) => {
                        black_box((head, consumed));
                    }
                    other => panic!("{other:?}"),
                }
            }
        })
    });
    g.bench_function("pared-core index", |b| {
        // The zero-copy form: positions in the buffer, as httparse gives.
        let mut p = RequestParser::new(Limits::default());
        b.iter(|| {
            for req in CORPUS {
                match p.parse_index(black_box(req)) {
                    Ok(Parsed::Complete { head, consumed }) => {
                        black_box((
                            head.method(),
                            head.target(req),
                            head.field_count(),
                            consumed,
                        ));
                    }
                    other => panic!("{other:?}"),
                }
            }
        })
    });
    g.bench_function("httparse", |b| {
        b.iter(|| {
            for req in CORPUS {
                let mut fields = [httparse::EMPTY_HEADER; 32];
                let mut r = httparse::Request::new(&mut fields);
                match r.parse(black_box(req)) {
                    Ok(httparse::Status::Complete(n)) => {
                        black_box((r.method, r.path, r.headers.len(), n));
                    }
                    other => panic!("{other:?}"),
                }
            }
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
