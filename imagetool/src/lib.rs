//! skiff-image's library: one image model over many transports.

pub mod bundle;
pub mod unpack;
