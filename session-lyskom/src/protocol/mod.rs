//! Protocol A as pure functions over bytes: framing and tokenizing server messages
//! ([`token`]), typed decoding ([`reader`], [`types`]), request encoding ([`encode`]) and the
//! error codes ([`error_code`]). Nothing here does I/O.

pub mod call;
pub mod encode;
pub mod error_code;
pub mod reader;
pub mod token;
pub mod types;
