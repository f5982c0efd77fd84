//! Receiving an upload on the async runtime: the body is gathered in
//! batches written on the blocking pool while the next batch is read (two
//! buffers, one write in flight); batch buffers come from a pool shared by
//! every connection, so stalled uploads hold only their read buffer.

use std::sync::Arc;
use std::time::Instant;

use pared_core::server::Event;
use pared_core::service::FsFailure;
use pared_host::conn_end::Stop;
use pared_host::document::take_document;
use pared_host::fs::Upload;

use super::conn::Conn;

/// Upload bytes gathered before one blocking write on the pool.
const UPLOAD_BATCH: usize = 512 * 1024;

/// The read buffer of a connection while an upload streams in: small (the
/// batches make the large writes), so a stalled upload holds little, and
/// large enough that the allocator maps it on its own and gives it back to
/// the system when the upload ends.
const UPLOAD_READ: usize = 128 * 1024;

/// Uploads that may hold a pair of batch buffers at once; more wait (and
/// stop reading) until one gives its pair back.
const BATCH_SLOTS: usize = 8;

/// Upload batch buffers shared by every connection: at most
/// [`BATCH_SLOTS`] uploads hold a pair at once, and buffers are kept for
/// reuse, so batches take at most 2 × 8 × 512 KiB = 8 MiB however many
/// uploads run or stall. A stalled upload gives its pair back and holds
/// only its read buffer.
pub(super) struct Batches {
    slots: Arc<smol::lock::Semaphore>,
    free: std::sync::Mutex<Vec<Vec<u8>>>,
}

impl Batches {
    pub(super) fn new() -> Batches {
        Batches {
            slots: Arc::new(smol::lock::Semaphore::new(BATCH_SLOTS)),
            free: std::sync::Mutex::new(Vec::new()),
        }
    }

    fn take(&self) -> Vec<u8> {
        self.free
            .lock()
            .ok()
            .and_then(|mut f| f.pop())
            .unwrap_or_else(|| Vec::with_capacity(UPLOAD_BATCH))
    }

    fn give(&self, mut buf: Vec<u8>) {
        if buf.capacity() >= UPLOAD_BATCH {
            buf.clear();
            if let Ok(mut f) = self.free.lock() {
                if f.len() < 2 * BATCH_SLOTS {
                    f.push(buf);
                }
            }
        }
    }
}

impl Conn<'_> {
    /// Tells a client waiting with `Expect: 100-continue` to send its body.
    async fn continue_body(&mut self) -> Result<(), Stop> {
        self.out.clear();
        self.conn.accept_body(&mut self.out);
        if !self.out.is_empty() {
            self.write_out(self.out.len(), rustix::net::SendFlags::empty())
                .await?;
        }
        Ok(())
    }

    /// Reads a small request body (bounded by core's body limit) into memory.
    pub(super) async fn receive_document(&mut self) -> Result<Vec<u8>, Stop> {
        self.continue_body().await?;
        let mut body = Vec::new();
        while !take_document(&mut self.conn, &mut self.buf, &mut body).map_err(Stop::Protocol)? {
            self.fill().await?;
        }
        Ok(body)
    }

    /// Streams the body into the upload in batches written on the blocking
    /// pool while the next batch is read (two buffers, one write in
    /// flight); the upload is removed if the body does not complete.
    pub(super) async fn receive_upload(
        &mut self,
        upload: Upload,
        interim: Option<&[u8]>,
    ) -> Result<Result<Upload, FsFailure>, Stop> {
        self.continue_body().await?;
        if let Some(bytes) = interim {
            self.out.clear();
            self.out.extend_from_slice(bytes);
            self.write_out(self.out.len(), rustix::net::SendFlags::empty())
                .await?;
        }
        let small = self.buf.limit();
        self.buf.resize(UPLOAD_READ);
        let result = self.stream_upload(upload).await;
        self.buf.resize(small);
        result
    }

    async fn stream_upload(&mut self, upload: Upload) -> Result<Result<Upload, FsFailure>, Stop> {
        let pool = &self.shared.batches;
        let mut upload = Some(upload);
        // Batch buffers are leased from the shared pool while data flows
        // and given back when the upload stalls or ends.
        let mut lease: Option<smol::lock::SemaphoreGuardArc> = None;
        let mut batch = Vec::new();
        let mut spare: Vec<u8> = Vec::new();
        let mut writing: Option<smol::Task<Written>> = None;
        let mut failed = None;
        loop {
            let (used, event) = self
                .conn
                .handle_input(self.buf.data(), Instant::now())
                .map_err(Stop::Protocol)?;
            match event {
                Event::Body(data) => {
                    if lease.is_none() {
                        lease = Some(pool.slots.acquire_arc().await);
                        batch = pool.take();
                        spare = pool.take();
                    }
                    batch.extend_from_slice(data);
                    self.buf.consume(used);
                    if batch.len() >= UPLOAD_BATCH {
                        if let Some(task) = writing.take() {
                            let (u, emptied, r) = task.await;
                            (upload, spare) = (u, emptied);
                            failed = failed.or(r.err());
                        }
                        let full = std::mem::replace(&mut batch, std::mem::take(&mut spare));
                        writing = Some(write_batch(upload.take(), full));
                    }
                }
                Event::End => {
                    self.buf.consume(used);
                    break;
                }
                Event::NeedData => {
                    self.buf.consume(used);
                    let before = self.buf.data().len();
                    self.fill().await?;
                    if self.buf.data().len() == before && lease.is_some() {
                        // Nothing arrived for a while: write out what we
                        // hold and give the batch buffers back, so a
                        // stalled upload keeps only its read buffer.
                        if let Some(task) = writing.take() {
                            let (u, emptied, r) = task.await;
                            upload = u;
                            pool.give(emptied);
                            failed = failed.or(r.err());
                        }
                        let (u, emptied, r) =
                            write_batch(upload.take(), std::mem::take(&mut batch)).await;
                        upload = u;
                        pool.give(emptied);
                        pool.give(std::mem::take(&mut spare));
                        failed = failed.or(r.err());
                        lease = None;
                    }
                }
                Event::Head(_) | Event::Paused | Event::Closed => break,
            }
        }
        if let Some(task) = writing.take() {
            let (u, emptied, r) = task.await;
            upload = u;
            pool.give(emptied);
            failed = failed.or(r.err());
        }
        pool.give(std::mem::take(&mut spare));
        let result = match failed {
            Some(f) => {
                pool.give(batch);
                Err(f)
            }
            None => {
                let (u, emptied, r) = write_batch(upload, batch).await;
                pool.give(emptied);
                r.and_then(|()| u.ok_or(FsFailure::Other))
            }
        };
        drop(lease);
        Ok(result)
    }
}

/// What a batch write hands back: the upload, the emptied buffer for
/// reuse, and the result.
type Written = (Option<Upload>, Vec<u8>, Result<(), FsFailure>);

/// Writes a batch on the blocking pool (started at once; await the task
/// for the upload and an emptied buffer).
fn write_batch(upload: Option<Upload>, batch: Vec<u8>) -> smol::Task<Written> {
    smol::unblock(move || {
        let mut upload = upload;
        let mut batch = batch;
        let r = match &mut upload {
            Some(u) if !batch.is_empty() => u.write(&batch),
            Some(_) => Ok(()),
            None => Err(FsFailure::Other),
        };
        batch.clear();
        (upload, batch, r)
    })
}
