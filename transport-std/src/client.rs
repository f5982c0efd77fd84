//! The blocking client: one command's exchanges on std sockets, the
//! session's redirects followed. What it shows and where the body goes
//! come from the shared client pieces in pared-host.

use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use pared_core::client::Connection;
use pared_core::fetch::Session;
use pared_core::ClientOptions;
use pared_host::client::{
    remove_temporaries_on_signal, shorter, time_left, tls_error, wire_error, ClientError, Job,
    Next, ResponseRead, RECV_CAPACITY, UPLOAD_CHUNK,
};
use pared_host::recv_buf::RecvBuf;
use pared_host::tls::{handshake, Tls, Wire};

fn connect(host: &str, port: u16, timeout: Option<Duration>) -> Result<TcpStream, ClientError> {
    let addrs: Vec<_> = (host, port)
        .to_socket_addrs()
        .map_err(|source| ClientError::Resolve {
            host: host.to_owned(),
            source,
        })?
        .collect();
    let mut last = None;
    for addr in &addrs {
        let r = match timeout {
            Some(t) => TcpStream::connect_timeout(addr, t),
            None => TcpStream::connect(addr),
        };
        match r {
            Ok(s) => return Ok(s),
            Err(e) if e.kind() == io::ErrorKind::TimedOut => {
                return Err(ClientError::Timeout {
                    during: "connecting",
                })
            }
            Err(e) => last = Some((addr.to_string(), e)),
        }
    }
    let (addr, source) = last.unwrap_or_else(|| (host.to_owned(), io::Error::other("no address")));
    Err(ClientError::Connect { addr, source })
}

/// Runs a client command: exchanges, redirects followed as the session
/// decides; returns the exit code of the delivered response.
pub fn run(mut session: Session, job: &Job, opts: &ClientOptions) -> Result<u8, ClientError> {
    remove_temporaries_on_signal();
    let deadline = opts.max_time.map(|t| Instant::now() + t);
    loop {
        let hop = session.hop();
        let url = hop.target.url();
        let net = |source| ClientError::Network {
            url: url.clone(),
            source,
        };
        let connect_wait = shorter(opts.connect_timeout, time_left(deadline, opts)?);
        let stream = connect(&hop.target.host, hop.target.port, connect_wait)?;
        let _ = stream.set_nodelay(true);
        let wait = shorter(opts.connection.read_timeout, time_left(deadline, opts)?);
        stream.set_write_timeout(wait).map_err(net)?;
        let mut stream = match hop.target.tls {
            false => Wire::Plain(stream),
            true => {
                stream.set_read_timeout(wait).map_err(net)?;
                let mut tls = Tls::client(job.tls_config()?, &hop.target.host)
                    .map_err(|f| tls_error(&hop.target, f))?;
                handshake(&stream, &mut tls, None, None)
                    .map_err(|e| wire_error(&hop.target, e, &net))?;
                Wire::Tls(stream, Box::new(tls))
            }
        };
        let mut conn = Connection::new(opts.connection);
        let mut out = Vec::new();
        conn.send_request(&hop.head, &mut out, Instant::now())?;
        job.show_request(&out);
        stream.write_all(&out).map_err(net)?;
        let mut write_failed = None;
        if hop.upload {
            if let Some((mut file, len)) = job.open_upload()? {
                write_failed = send_file(&mut stream, &mut file, len, &mut conn, job, || {
                    time_left(deadline, opts).map(|_| ())
                })
                .err();
            }
        }
        let mut buf = RecvBuf::new(RECV_CAPACITY);
        // The request is out: read the response without blocking (see fill).
        stream.socket().set_nonblocking(true).map_err(net)?;
        let mut reading = ResponseRead::new(&hop, write_failed);
        loop {
            match reading.advance(&mut conn, &mut buf, job, &mut session, &hop)? {
                Next::Fill => {
                    let cap = time_left(deadline, opts)?;
                    fill(&mut stream, &mut buf, &mut conn, cap)
                        .map_err(|e| wire_error(&hop.target, e, &net))?;
                }
                Next::Redirect => break,
                Next::Done(exit) => return Ok(exit),
            }
        }
    }
}

fn send_file(
    stream: &mut Wire,
    file: &mut impl Read,
    len: u64,
    conn: &mut Connection,
    job: &Job,
    in_time: impl Fn() -> Result<(), ClientError>,
) -> Result<(), ClientError> {
    let path = job
        .upload
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let mut chunk = vec![0u8; UPLOAD_CHUNK];
    let mut progress = job.progress(len);
    loop {
        let n = file.read(&mut chunk).map_err(|source| ClientError::Local {
            path: path.clone(),
            source,
        })?;
        if n == 0 {
            break;
        }
        in_time()?;
        conn.send_body(n, Instant::now())?;
        stream
            .write_all(&chunk[..n])
            .map_err(|source| ClientError::Network {
                url: String::new(),
                source,
            })?;
        progress.add(n);
    }
    progress.finish();
    conn.finish_request()?;
    Ok(())
}

/// One read bounded by core's deadline; a timeout becomes core's error.
///
/// The socket is non-blocking: a read that finds nothing waits in `poll`
/// for the time core says is left. (Blocking reads cost about twice the
/// system time on loopback downloads: the reader then does the TCP
/// receive processing itself.)
fn fill(
    stream: &mut Wire,
    buf: &mut RecvBuf,
    conn: &mut Connection,
    cap: Option<Duration>,
) -> io::Result<()> {
    loop {
        match stream.read(buf.spare()) {
            Ok(0) => conn.handle_eof(),
            Ok(n) => buf.filled(n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                let Ok(left) = conn.time_left(Instant::now()) else {
                    return Ok(()); // sticky: the next handle_input reports it
                };
                // --max-time bounds the wait too; the caller checks it.
                let left = shorter(left, cap);
                if !pared_host::wait::wait_for(stream.socket(), rustix::event::PollFlags::IN, left)?
                {
                    // Time ran out (or a signal came): a passed deadline is
                    // recorded, and handle_input reports it.
                    let _ = conn.handle_timeout(Instant::now());
                    return Ok(());
                }
                continue;
            }
            Err(e) => return Err(e),
        }
        return Ok(());
    }
}
