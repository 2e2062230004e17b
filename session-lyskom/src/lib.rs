//! LysKOM Protocol A: a codec, an async client and an httpkom-compatible HTTP gateway.
//!
//! The crate has three layers:
//!
//! - [`protocol`]: Protocol A as pure functions over bytes. [`protocol::token::parse_message`]
//!   cuts one server message (reply, error, asynchronous message or `%%` protocol error) from
//!   a buffer and splits it into tokens; hollerith strings are counted in bytes, so the
//!   newline that ends a message is never confused with one inside a string. The typed
//!   decoders in [`protocol::types`] read those tokens once the reference number has told
//!   which call a reply answers. [`protocol::encode::encode_request`] builds requests.
//!   Conferences, persons, texts and sessions are named by types of their own
//!   ([`protocol::numbers`]), so one cannot be passed for another.
//! - [`client`]: an async client over a tokio TCP stream. Many calls may be outstanding at
//!   once; each waits for the reply with its reference number, asynchronous messages come out
//!   of a channel, and a lost connection fails every waiting call at once. On top of it,
//!   [`lookup`] looks names up as pylyskom does (`#<number>` included) and [`auth`] logs in
//!   through session-core's `Authenticator`.
//! - `gateway` (feature `gateway`): a hyper 1 service speaking httpkom 0.32's HTTP API, so httpkom's clients
//!   (jskom among them) work unchanged; secret connection ids map to live connections, each
//!   a `session_core::Session`.
//!
//! # Example
//!
//! Encoding a login request and decoding the server's answers:
//!
//! ```
//! use session_lyskom::protocol::encode::{encode_request, Arg};
//! use session_lyskom::protocol::token::{parse_message, Message};
//! use session_lyskom::protocol::reader::decode_all;
//! use session_lyskom::protocol::numbers::{ConfNo, PersNo};
//! use session_lyskom::protocol::types::ConfZInfo;
//!
//! // login [62] as person 5 with password "gazonk", visibly.
//! let request = encode_request(1, 62, &[PersNo(5).into(), Arg::text("gazonk"), Arg::Bool(false)]);
//! assert_eq!(request, b"1 62 5 6Hgazonk 0\n");
//!
//! // The server's reply to a lookup-z-name: one conference named "Grön" (in ISO 8859-1, as LysKOM names are).
//! let reply = b"=2 1 { 4HGr\xf6n 0000 6 }\n";
//! let Some((Message::Reply { ref_no, body }, used)) = parse_message(reply)? else {
//!     panic!("a whole reply was there");
//! };
//! assert_eq!((ref_no, used), (2, reply.len()));
//! let found: Vec<ConfZInfo> = decode_all(&body)?;
//! assert_eq!(found[0].name, "Grön");
//! assert_eq!(found[0].conf_no, ConfNo(6));
//!
//! // A failed call: error 4 (InvalidPassword) with status 0.
//! let Some((Message::Error { code, .. }, _)) = parse_message(b"%1 4 0\n")? else {
//!     panic!("an error reply");
//! };
//! assert_eq!(session_lyskom::protocol::error_code::name(code), Some("InvalidPassword"));
//! # Ok::<(), session_lyskom::Error>(())
//! ```

#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod auth;
pub mod client;
pub mod error;
#[cfg(feature = "gateway")]
#[cfg_attr(docsrs, doc(cfg(feature = "gateway")))]
pub mod gateway;
pub mod lookup;
pub mod protocol;

pub use error::Error;
