//! Protocol A as pure functions over bytes: framing and tokenizing server messages
//! ([`token`]), typed decoding ([`reader`], [`types`]), request encoding ([`encode`]), the
//! error codes ([`error_code`]) and the numbers conferences, persons, texts and sessions go by
//! ([`numbers`]). Nothing here does I/O.

pub mod call;
pub mod encode;
pub mod error_code;
pub mod numbers;
pub mod reader;
pub mod token;
pub mod types;
