//! The container's filesystem view (OCI runtime spec, config-linux "Mounts",
//! "Devices", "maskedPaths", "readonlyPaths", "rootfsPropagation").
