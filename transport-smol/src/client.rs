//! The async client: the same session and job as the std client, with
//! async-net sockets and smol timers. The upload file is read on smol's
//! blocking pool; the body sink writes inline, since a client command is a
//! single task on `block_on` with nothing else to stall.

use std::io::{self, Read};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use async_net::TcpStream;
use futures_lite::future;
use pared_core::client::Connection;
use pared_core::fetch::Session;
use pared_core::ClientOptions;
use pared_host::client::{
    remove_temporaries_on_signal, shorter, time_left, tls_error, wire_error, ClientError, Job,
    Next, ResponseRead, RECV_CAPACITY, UPLOAD_CHUNK,
};
use pared_host::recv_buf::RecvBuf;
use pared_host::tls::Tls;

use crate::wire::{handshake, Wire};
use smol::Timer;

/// Runs `fut`, or gives `None` after `limit`.
async fn within<T>(
    limit: Option<Duration>,
    fut: impl std::future::Future<Output = T>,
) -> Option<T> {
    match limit {
        None => Some(fut.await),
        Some(t) => {
            future::or(async { Some(fut.await) }, async {
                Timer::after(t).await;
                None
            })
            .await
        }
    }
}

async fn connect(
    host: &str,
    port: u16,
    timeout: Option<Duration>,
) -> Result<TcpStream, ClientError> {
    let addrs: Vec<SocketAddr> = within(timeout, async_net::resolve((host, port)))
        .await
        .ok_or(ClientError::Timeout {
            during: "resolving",
        })?
        .map_err(|source| ClientError::Resolve {
            host: host.to_owned(),
            source,
        })?;
    let mut last = None;
    for addr in addrs {
        match within(timeout, TcpStream::connect(addr)).await {
            None => {
                return Err(ClientError::Timeout {
                    during: "connecting",
                })
            }
            Some(Ok(s)) => return Ok(s),
            Some(Err(e)) => last = Some((addr.to_string(), e)),
        }
    }
    let (addr, source) = last.unwrap_or_else(|| (host.to_owned(), io::Error::other("no address")));
    Err(ClientError::Connect { addr, source })
}

/// Runs a client command on smol; see [`pared_host::client::run`].
pub fn run(session: Session, job: &Job, opts: &ClientOptions) -> Result<u8, ClientError> {
    smol::block_on(run_async(session, job, opts))
}

async fn run_async(
    mut session: Session,
    job: &Job,
    opts: &ClientOptions,
) -> Result<u8, ClientError> {
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
        let tcp = connect(&hop.target.host, hop.target.port, connect_wait).await?;
        let _ = tcp.set_nodelay(true);
        let mut stream = match hop.target.tls {
            false => Wire::Plain(tcp),
            true => {
                let mut tls = Tls::client(job.tls_config()?, &hop.target.host)
                    .map_err(|f| tls_error(&hop.target, f))?;
                let wait = shorter(opts.connection.read_timeout, time_left(deadline, opts)?);
                let mut tcp = tcp;
                match within(wait, handshake(&mut tcp, &mut tls)).await {
                    Some(r) => r.map_err(|e| wire_error(&hop.target, e, &net))?,
                    None => {
                        return Err(ClientError::Timeout {
                            during: "the TLS handshake",
                        })
                    }
                }
                Wire::Tls(tcp, Box::new(tls))
            }
        };
        let mut conn = Connection::new(opts.connection);
        let mut out = Vec::new();
        conn.send_request(&hop.head, &mut out, Instant::now())?;
        job.show_request(&out);
        let sending = async {
            stream.write_all(&out).await.map_err(net)?;
            let mut write_failed = None;
            if hop.upload {
                if let Some((file, len)) = job.open_upload()? {
                    write_failed = send_file(&mut stream, file, len, &mut conn, job)
                        .await
                        .err();
                }
            }
            Ok::<_, ClientError>(write_failed)
        };
        let write_failed = match within(time_left(deadline, opts)?, sending).await {
            Some(r) => r?,
            None => {
                return Err(time_left(deadline, opts)
                    .err()
                    .unwrap_or(ClientError::Timeout {
                        during: "sending the request",
                    }))
            }
        };
        let mut buf = RecvBuf::new(RECV_CAPACITY);
        let mut reading = ResponseRead::new(&hop, write_failed);
        loop {
            match reading.advance(&mut conn, &mut buf, job, &mut session, &hop)? {
                Next::Fill => {
                    let cap = time_left(deadline, opts)?;
                    fill(&mut stream, &mut buf, &mut conn, cap)
                        .await
                        .map_err(|e| wire_error(&hop.target, e, &net))?;
                }
                Next::Redirect => break,
                Next::Done(exit) => return Ok(exit),
            }
        }
    }
}

async fn send_file(
    stream: &mut Wire,
    file: pared_host::client::UploadBody,
    len: u64,
    conn: &mut Connection,
    job: &Job,
) -> Result<(), ClientError> {
    let path = job
        .upload
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let mut progress = job.progress(len);
    let mut state = (file, vec![0u8; UPLOAD_CHUNK]);
    loop {
        let (file, mut chunk) = state;
        let (file, chunk, read) = smol::unblock(move || {
            let mut file = file;
            let r = file.read(&mut chunk);
            (file, chunk, r)
        })
        .await;
        let n = read.map_err(|source| ClientError::Local {
            path: path.clone(),
            source,
        })?;
        if n == 0 {
            break;
        }
        conn.send_body(n, Instant::now())?;
        stream
            .write_all(&chunk[..n])
            .await
            .map_err(|source| ClientError::Network {
                url: String::new(),
                source,
            })?;
        progress.add(n);
        state = (file, chunk);
    }
    progress.finish();
    conn.finish_request()?;
    Ok(())
}

/// One read bounded by core's deadline; a timeout becomes core's error.
async fn fill(
    stream: &mut Wire,
    buf: &mut RecvBuf,
    conn: &mut Connection,
    cap: Option<Duration>,
) -> io::Result<()> {
    let Ok(limit) = conn.time_left(Instant::now()) else {
        return Ok(()); // the error is sticky: the next handle_input reports it
    };
    // --max-time bounds the wait too; the caller checks it.
    let limit = shorter(limit, cap);
    match within(limit, stream.read(buf.spare())).await {
        None => {
            let _ = conn.handle_timeout(Instant::now());
        }
        Some(Ok(0)) => conn.handle_eof(),
        Some(Ok(n)) => buf.filled(n),
        Some(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
        Some(Err(e)) => return Err(e),
    }
    Ok(())
}
