//! containerd-shim-skiff-v2: not built yet (see issue 7); it exits non-zero so
//! nothing mistakes it for a working shim.
fn main() {
    eprintln!("containerd-shim-skiff-v2: the shim is not implemented yet");
    std::process::exit(1);
}
