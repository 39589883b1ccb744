//! skiff-image's library: one image model over many transports (see ARCHITECTURE.md,
//! "The image tool"). Sources and destinations meet in [`copy`]; every blob is verified
//! while it streams ([`verify`]).
// Raw syscalls live in `unpack::sys` and `sys` only, each with a SAFETY note.
#![deny(unsafe_code)]

pub mod bundle;
pub mod changes;
pub mod commit;
pub mod copy;
pub mod digest;
pub mod export;
pub mod filter;
pub mod fsutil;
pub mod gc;
pub mod import;
pub mod inspect;
pub mod lock;
pub mod manifest;
pub mod platform;
pub mod progress;
pub mod recompress;
pub mod reference;
pub mod registry;
pub mod sync;
pub mod template;
pub mod transport;
pub mod unpack;
pub mod validate;
pub mod verify;

pub use digest::Digest;
pub use reference::ImageRef;
pub use transport::store::{resolve_image, ResolvedImage, Store};
