//! SAP Commerce HAC (work in progress).

mod cache;
pub mod emulator;
mod error;
mod html;

pub use cache::{CacheKey, CachedSession, FileSessionCache, SessionCache};
pub use error::HacError;
pub use html::{csrf_token, is_login_page};
