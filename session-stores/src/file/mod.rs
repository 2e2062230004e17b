//! The file store: one file per session in a private directory.

mod directory;
mod sealer;
mod store;

pub use sealer::{Plain, Sealer};
pub use store::{FileStore, ResealReport};
