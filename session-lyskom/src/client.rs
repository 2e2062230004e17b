//! An async Protocol A client over tokio TCP.
//!
//! One [`Client`] owns one connection. Calls may run concurrently from many tasks: each gets
//! its own reference number and waits for the reply carrying it, whatever order replies and
//! asynchronous messages arrive in. A writer task sends requests in batches; a reader task
//! cuts messages from the stream and routes them. When the connection ends (the server
//! closes it, a disconnect call, an I/O error or a `%%` protocol error) every waiting call
//! fails with [`Error::Disconnected`] at once and [`Client::is_closed`] turns true.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::{Notify, mpsc, oneshot};

use crate::error::Error;
use crate::protocol::call;
use crate::protocol::encode::{Arg, encode_handshake, encode_request};
use crate::protocol::reader::{Decode, decode_all};
use crate::protocol::token::{Message, Token, parse_handshake, parse_message};
use crate::protocol::types::{
    ConfType, ConfZInfo, Conference, Mark, Membership, MembershipType, MiscInfo, Person,
    ServerInfo, TextMapping, TextStat, Time, UConference,
};

/// How a client connects.
#[derive(Clone, Debug)]
pub struct ConnectOptions {
    /// The user name sent in the handshake (`user%host` by convention).
    pub handshake_user: String,
    /// How long connecting and the handshake may take.
    pub connect_timeout: Duration,
    /// How long a call may wait for its reply.
    pub call_timeout: Duration,
    /// How many asynchronous messages are buffered for [`Client::take_async_messages`];
    /// further ones are dropped (and counted) until the receiver catches up.
    pub async_buffer: usize,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            handshake_user: "session-lyskom".into(),
            connect_timeout: Duration::from_secs(10),
            call_timeout: Duration::from_secs(30),
            async_buffer: 256,
        }
    }
}

/// An asynchronous message from the server (`:n msg-no …`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AsyncMessage {
    /// The message number (e.g. 5 new-name, 9 login, 12 send-message, 15 new-text).
    pub msg_no: u32,
    /// The parameters, to be decoded with [`crate::protocol::reader::TokenReader`].
    pub body: Vec<Token>,
}

type Reply = Result<Vec<Token>, Error>;

#[derive(Default)]
struct Pending {
    waiting: HashMap<u32, oneshot::Sender<Reply>>,
    next_ref: u32,
    closed: bool,
}

struct Shared {
    pending: std::sync::Mutex<Pending>,
    closed: AtomicBool,
    closed_notify: Notify,
    dropped_async: AtomicU64,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn close(&self) {
        let waiting = {
            let mut p = self.lock();
            p.closed = true;
            std::mem::take(&mut p.waiting)
        };
        self.closed.store(true, Ordering::SeqCst);
        for (_, tx) in waiting {
            let _ = tx.send(Err(Error::Disconnected));
        }
        self.closed_notify.notify_waiters();
    }
}

/// A connection to a LysKOM server. Cheap to clone; all clones share the connection.
#[derive(Clone)]
pub struct Client {
    shared: Arc<Shared>,
    writer: mpsc::UnboundedSender<Vec<u8>>,
    call_timeout: Duration,
    async_rx: Arc<std::sync::Mutex<Option<mpsc::Receiver<AsyncMessage>>>>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("closed", &self.is_closed())
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Connects to `addr` (`host:port`) and performs the handshake.
    pub async fn connect(addr: &str, options: &ConnectOptions) -> Result<Client, Error> {
        let setup = async {
            let mut stream = TcpStream::connect(addr).await?;
            stream.set_nodelay(true)?;
            stream
                .write_all(&encode_handshake(&options.handshake_user))
                .await?;
            let mut buf = BytesMut::with_capacity(4096);
            loop {
                if let Some(n) = parse_handshake(&buf)? {
                    buf.advance(n);
                    break;
                }
                if stream.read_buf(&mut buf).await? == 0 {
                    return Err(Error::Handshake(
                        "the server closed the connection during the handshake".into(),
                    ));
                }
            }
            Ok::<_, Error>((stream, buf))
        };
        let (stream, buf) = tokio::time::timeout(options.connect_timeout, setup)
            .await
            .map_err(|_| Error::Timeout(options.connect_timeout))??;
        Ok(Client::start(stream, buf, options))
    }

    fn start(stream: TcpStream, buf: BytesMut, options: &ConnectOptions) -> Client {
        let (read_half, write_half) = stream.into_split();
        let shared = Arc::new(Shared {
            pending: std::sync::Mutex::new(Pending {
                next_ref: 1,
                ..Pending::default()
            }),
            closed: AtomicBool::new(false),
            closed_notify: Notify::new(),
            dropped_async: AtomicU64::new(0),
        });
        let (write_tx, write_rx) = mpsc::unbounded_channel();
        let (async_tx, async_rx) = mpsc::channel(options.async_buffer.max(1));
        tokio::spawn(write_loop(write_half, write_rx, shared.clone()));
        tokio::spawn(read_loop(read_half, buf, shared.clone(), async_tx));
        Client {
            shared,
            writer: write_tx,
            call_timeout: options.call_timeout,
            async_rx: Arc::new(std::sync::Mutex::new(Some(async_rx))),
        }
    }

    /// Whether the connection has ended. Once true, every call fails with
    /// [`Error::Disconnected`].
    pub fn is_closed(&self) -> bool {
        self.shared.closed.load(Ordering::SeqCst)
    }

    /// Waits until the connection ends.
    pub async fn closed(&self) {
        loop {
            let notified = self.shared.closed_notify.notified();
            if self.is_closed() {
                return;
            }
            notified.await;
        }
    }

    /// How many asynchronous messages were dropped because nobody read them.
    pub fn dropped_async_messages(&self) -> u64 {
        self.shared.dropped_async.load(Ordering::Relaxed)
    }

    /// The stream of asynchronous messages (only the first caller gets it).
    pub fn take_async_messages(&self) -> Option<mpsc::Receiver<AsyncMessage>> {
        self.async_rx
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
    }

    /// Closes the connection without a disconnect call; waiting calls fail.
    pub fn close(&self) {
        self.shared.close();
    }

    /// Makes call `call_no` with `args` and decodes its reply as `T`.
    pub async fn call<T: Decode>(&self, call_no: u32, args: &[Arg]) -> Result<T, Error> {
        let tokens = self.call_raw(call_no, args).await?;
        decode_all(&tokens)
    }

    /// Makes call `call_no` with `args` and returns the reply's tokens undecoded.
    pub async fn call_raw(&self, call_no: u32, args: &[Arg]) -> Result<Vec<Token>, Error> {
        let (tx, rx) = oneshot::channel();
        let ref_no = {
            let mut p = self.shared.lock();
            if p.closed {
                return Err(Error::Disconnected);
            }
            let mut ref_no = p.next_ref;
            while p.waiting.contains_key(&ref_no) {
                ref_no = ref_no.wrapping_add(1).max(1);
            }
            p.next_ref = ref_no.wrapping_add(1).max(1);
            p.waiting.insert(ref_no, tx);
            ref_no
        };
        let guard = PendingGuard {
            shared: &self.shared,
            ref_no,
        };
        if self
            .writer
            .send(encode_request(ref_no, call_no, args))
            .is_err()
        {
            return Err(Error::Disconnected);
        }
        let reply = match tokio::time::timeout(self.call_timeout, rx).await {
            Ok(Ok(reply)) => reply,
            Ok(Err(_)) => Err(Error::Disconnected),
            Err(_) => Err(Error::Timeout(self.call_timeout)),
        };
        drop(guard);
        reply
    }

    // ---- typed calls -------------------------------------------------------------------

    /// login (call 62): logs in as `person` (visibly unless `invisible`).
    pub async fn login(&self, person: u32, password: &str, invisible: bool) -> Result<(), Error> {
        self.call(
            call::LOGIN,
            &[
                Arg::Int(person),
                Arg::latin1(password)?,
                Arg::Bool(invisible),
            ],
        )
        .await
    }

    /// logout (call 1).
    pub async fn logout(&self) -> Result<(), Error> {
        self.call(call::LOGOUT, &[]).await
    }

    /// who-am-i (call 56): this connection's session number.
    pub async fn who_am_i(&self) -> Result<u32, Error> {
        self.call(call::WHO_AM_I, &[]).await
    }

    /// user-active (call 82): tells the server the user is active.
    pub async fn user_active(&self) -> Result<(), Error> {
        self.call(call::USER_ACTIVE, &[]).await
    }

    /// disconnect (call 55): ends session `session_no` (0 = this one).
    pub async fn disconnect(&self, session_no: u32) -> Result<(), Error> {
        self.call(call::DISCONNECT, &[Arg::Int(session_no)]).await
    }

    /// get-time (call 35): the server's clock.
    pub async fn get_time(&self) -> Result<Time, Error> {
        self.call(call::GET_TIME, &[]).await
    }

    /// enable (call 42): sets the privilege level (255 for an administrator's full rights).
    pub async fn enable(&self, level: u32) -> Result<(), Error> {
        self.call(call::ENABLE, &[Arg::Int(level)]).await
    }

    /// set-client-version (call 69).
    pub async fn set_client_version(&self, name: &str, version: &str) -> Result<(), Error> {
        self.call(
            call::SET_CLIENT_VERSION,
            &[Arg::text(name), Arg::text(version)],
        )
        .await
    }

    /// accept-async (call 80): the asynchronous messages this connection wants.
    pub async fn accept_async(&self, messages: &[u32]) -> Result<(), Error> {
        let list = messages.iter().map(|m| Arg::Int(*m)).collect();
        self.call(call::ACCEPT_ASYNC, &[Arg::Array(list)]).await
    }

    /// change-conference (call 2): sets the working conference.
    pub async fn change_conference(&self, conf_no: u32) -> Result<(), Error> {
        self.call(call::CHANGE_CONFERENCE, &[Arg::Int(conf_no)])
            .await
    }

    /// lookup-z-name (call 76): persons and/or conferences whose names match `name`.
    pub async fn lookup_z_name(
        &self,
        name: &str,
        want_persons: bool,
        want_confs: bool,
    ) -> Result<Vec<ConfZInfo>, Error> {
        self.call(
            call::LOOKUP_Z_NAME,
            &[
                Arg::latin1(name)?,
                Arg::Bool(want_persons),
                Arg::Bool(want_confs),
            ],
        )
        .await
    }

    /// create-person (call 89): a new person with `name` and `password`; its number.
    pub async fn create_person(&self, name: &str, password: &str) -> Result<u32, Error> {
        self.call(
            call::CREATE_PERSON,
            &[
                Arg::latin1(name)?,
                Arg::latin1(password)?,
                Arg::Bits(vec![false; 8]),
                Arg::Array(vec![]),
            ],
        )
        .await
    }

    /// create-conf (call 88): a new conference of `conf_type`; its number.
    pub async fn create_conf(&self, name: &str, conf_type: ConfType) -> Result<u32, Error> {
        self.call(
            call::CREATE_CONF,
            &[
                Arg::latin1(name)?,
                Arg::Bits(conf_type.to_bits()),
                Arg::Array(vec![]),
            ],
        )
        .await
    }

    /// get-uconf-stat (call 78).
    pub async fn get_uconf_stat(&self, conf_no: u32) -> Result<UConference, Error> {
        self.call(call::GET_UCONF_STAT, &[Arg::Int(conf_no)]).await
    }

    /// get-conf-stat (call 91).
    pub async fn get_conf_stat(&self, conf_no: u32) -> Result<Conference, Error> {
        self.call(call::GET_CONF_STAT, &[Arg::Int(conf_no)]).await
    }

    /// get-person-stat (call 49).
    pub async fn get_person_stat(&self, pers_no: u32) -> Result<Person, Error> {
        self.call(call::GET_PERSON_STAT, &[Arg::Int(pers_no)]).await
    }

    /// get-info (call 94): facts about the server.
    pub async fn get_info(&self) -> Result<ServerInfo, Error> {
        self.call(call::GET_INFO, &[]).await
    }

    /// create-text (call 86): a text (`subject\nbody` by convention) with misc-info and aux-items
    /// given as (tag, data) pairs; its number.
    pub async fn create_text(
        &self,
        text: &[u8],
        misc_info: &[MiscInfo],
        aux_items: &[(u32, Vec<u8>)],
    ) -> Result<u32, Error> {
        let misc = misc_info.iter().map(MiscInfo::to_arg).collect();
        let aux = aux_items
            .iter()
            .map(|(tag, data)| {
                Arg::Struct(vec![
                    Arg::Int(*tag),
                    Arg::Bits(vec![false; 8]),
                    Arg::Int(0),
                    Arg::Str(data.clone()),
                ])
            })
            .collect();
        self.call(
            call::CREATE_TEXT,
            &[Arg::Str(text.to_vec()), Arg::Array(misc), Arg::Array(aux)],
        )
        .await
    }

    /// get-text (call 25): the bytes of a text (subject line and body).
    pub async fn get_text(&self, text_no: u32) -> Result<Vec<u8>, Error> {
        let tokens = self
            .call_raw(
                call::GET_TEXT,
                &[Arg::Int(text_no), Arg::Int(0), Arg::Int(i32::MAX as u32)],
            )
            .await?;
        match tokens.as_slice() {
            [Token::Str(bytes)] => Ok(bytes.clone()),
            _ => Err(Error::Malformed("get-text must answer one string".into())),
        }
    }

    /// get-text-stat (call 90).
    pub async fn get_text_stat(&self, text_no: u32) -> Result<TextStat, Error> {
        self.call(call::GET_TEXT_STAT, &[Arg::Int(text_no)]).await
    }

    /// local-to-global (call 103): global numbers of up to `count` texts from `first_local_no`.
    pub async fn local_to_global(
        &self,
        conf_no: u32,
        first_local_no: u32,
        count: u32,
    ) -> Result<TextMapping, Error> {
        self.call(
            call::LOCAL_TO_GLOBAL,
            &[Arg::Int(conf_no), Arg::Int(first_local_no), Arg::Int(count)],
        )
        .await
    }

    /// local-to-global-reverse (call 121): global numbers of up to `count` texts below
    /// `local_ceiling` (0 = the newest texts).
    pub async fn local_to_global_reverse(
        &self,
        conf_no: u32,
        local_ceiling: u32,
        count: u32,
    ) -> Result<TextMapping, Error> {
        self.call(
            call::LOCAL_TO_GLOBAL_REVERSE,
            &[Arg::Int(conf_no), Arg::Int(local_ceiling), Arg::Int(count)],
        )
        .await
    }

    /// get-membership (call 108): up to `count` memberships of `pers_no` from position `first`.
    pub async fn get_membership(
        &self,
        pers_no: u32,
        first: u32,
        count: u32,
        want_read_ranges: bool,
    ) -> Result<Vec<Membership>, Error> {
        self.call(
            call::GET_MEMBERSHIP,
            &[
                Arg::Int(pers_no),
                Arg::Int(first),
                Arg::Int(count),
                Arg::Bool(want_read_ranges),
                Arg::Int(0),
            ],
        )
        .await
    }

    /// query-read-texts (call 107): one membership with its read ranges.
    pub async fn query_read_texts(&self, pers_no: u32, conf_no: u32) -> Result<Membership, Error> {
        self.call(
            call::QUERY_READ_TEXTS,
            &[
                Arg::Int(pers_no),
                Arg::Int(conf_no),
                Arg::Bool(true),
                Arg::Int(0),
            ],
        )
        .await
    }

    /// mark-as-read (call 27): marks local texts of a conference as read.
    pub async fn mark_as_read(&self, conf_no: u32, local_nos: &[u32]) -> Result<(), Error> {
        let list = local_nos.iter().map(|n| Arg::Int(*n)).collect();
        self.call(call::MARK_AS_READ, &[Arg::Int(conf_no), Arg::Array(list)])
            .await
    }

    /// mark-as-unread (call 109).
    pub async fn mark_as_unread(&self, conf_no: u32, local_no: u32) -> Result<(), Error> {
        self.call(
            call::MARK_AS_UNREAD,
            &[Arg::Int(conf_no), Arg::Int(local_no)],
        )
        .await
    }

    /// set-unread (call 40): leaves the last `count` texts of a conference unread.
    pub async fn set_unread(&self, conf_no: u32, count: u32) -> Result<(), Error> {
        self.call(call::SET_UNREAD, &[Arg::Int(conf_no), Arg::Int(count)])
            .await
    }

    /// add-member (call 100).
    pub async fn add_member(
        &self,
        conf_no: u32,
        pers_no: u32,
        priority: u32,
        position: u32,
        membership_type: MembershipType,
    ) -> Result<(), Error> {
        self.call(
            call::ADD_MEMBER,
            &[
                Arg::Int(conf_no),
                Arg::Int(pers_no),
                Arg::Int(priority),
                Arg::Int(position),
                Arg::Bits(membership_type.to_bits()),
            ],
        )
        .await
    }

    /// sub-member (call 15).
    pub async fn sub_member(&self, conf_no: u32, pers_no: u32) -> Result<(), Error> {
        self.call(call::SUB_MEMBER, &[Arg::Int(conf_no), Arg::Int(pers_no)])
            .await
    }

    /// mark-text (call 72).
    pub async fn mark_text(&self, text_no: u32, mark_type: u32) -> Result<(), Error> {
        self.call(call::MARK_TEXT, &[Arg::Int(text_no), Arg::Int(mark_type)])
            .await
    }

    /// unmark-text (call 73).
    pub async fn unmark_text(&self, text_no: u32) -> Result<(), Error> {
        self.call(call::UNMARK_TEXT, &[Arg::Int(text_no)]).await
    }

    /// get-marks (call 23).
    pub async fn get_marks(&self) -> Result<Vec<Mark>, Error> {
        self.call(call::GET_MARKS, &[]).await
    }

    /// get-unread-confs (call 52): conferences where `pers_no` may have unread texts.
    pub async fn get_unread_confs(&self, pers_no: u32) -> Result<Vec<u32>, Error> {
        self.call(call::GET_UNREAD_CONFS, &[Arg::Int(pers_no)])
            .await
    }

    /// set-passwd (call 8).
    pub async fn set_passwd(&self, pers_no: u32, old: &str, new: &str) -> Result<(), Error> {
        self.call(
            call::SET_PASSWD,
            &[Arg::Int(pers_no), Arg::latin1(old)?, Arg::latin1(new)?],
        )
        .await
    }

    /// set-presentation (call 16).
    pub async fn set_presentation(&self, conf_no: u32, text_no: u32) -> Result<(), Error> {
        self.call(
            call::SET_PRESENTATION,
            &[Arg::Int(conf_no), Arg::Int(text_no)],
        )
        .await
    }
}

/// Removes a call's entry when it stops waiting (reply, timeout or cancellation).
struct PendingGuard<'a> {
    shared: &'a Shared,
    ref_no: u32,
}

impl Drop for PendingGuard<'_> {
    fn drop(&mut self) {
        self.shared.lock().waiting.remove(&self.ref_no);
    }
}

async fn write_loop(
    mut stream: OwnedWriteHalf,
    mut rx: mpsc::UnboundedReceiver<Vec<u8>>,
    shared: Arc<Shared>,
) {
    let mut batch = Vec::with_capacity(4096);
    loop {
        tokio::select! {
            message = rx.recv() => {
                let Some(first) = message else { break };
                batch.clear();
                batch.extend_from_slice(&first);
                while batch.len() < 64 * 1024 {
                    match rx.try_recv() {
                        Ok(more) => batch.extend_from_slice(&more),
                        Err(_) => break,
                    }
                }
                if stream.write_all(&batch).await.is_err() {
                    shared.close();
                    return;
                }
            }
            () = wait_closed(&shared) => break,
        }
    }
    let _ = stream.shutdown().await;
}

async fn wait_closed(shared: &Shared) {
    loop {
        let notified = shared.closed_notify.notified();
        if shared.closed.load(Ordering::SeqCst) {
            return;
        }
        notified.await;
    }
}

async fn read_loop(
    mut stream: OwnedReadHalf,
    mut buf: BytesMut,
    shared: Arc<Shared>,
    async_tx: mpsc::Sender<AsyncMessage>,
) {
    loop {
        loop {
            match parse_message(&buf) {
                Ok(Some((message, used))) => {
                    buf.advance(used);
                    if !dispatch(message, &shared, &async_tx) {
                        shared.close();
                        return;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    tracing::warn!("closing a LysKOM connection after unreadable data: {e}");
                    shared.close();
                    return;
                }
            }
        }
        if buf.capacity() - buf.len() < 4096 {
            buf.reserve(16 * 1024);
        }
        let read = tokio::select! {
            r = stream.read_buf(&mut buf) => r,
            () = wait_closed(&shared) => return,
        };
        match read {
            Ok(0) | Err(_) => {
                shared.close();
                return;
            }
            Ok(_) => {}
        }
    }
}

/// Routes one message; false when the connection must end.
fn dispatch(message: Message, shared: &Shared, async_tx: &mpsc::Sender<AsyncMessage>) -> bool {
    match message {
        Message::Reply { ref_no, body } => {
            if let Some(tx) = shared.lock().waiting.remove(&ref_no) {
                let _ = tx.send(Ok(body));
            }
            true
        }
        Message::Error {
            ref_no,
            code,
            status,
        } => {
            if let Some(tx) = shared.lock().waiting.remove(&ref_no) {
                let _ = tx.send(Err(Error::Server { code, status }));
            }
            true
        }
        Message::Async { msg_no, body } => {
            if async_tx.try_send(AsyncMessage { msg_no, body }).is_err() {
                shared.dropped_async.fetch_add(1, Ordering::Relaxed);
            }
            true
        }
        Message::ProtocolError(text) => {
            tracing::warn!(
                "the LysKOM server reported a protocol error: {}",
                String::from_utf8_lossy(&text)
            );
            false
        }
    }
}
