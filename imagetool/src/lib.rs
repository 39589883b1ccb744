//! skiff-image's library: one image model over many transports.

pub mod unpack;
