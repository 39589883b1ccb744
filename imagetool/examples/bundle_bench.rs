use std::path::Path;
use std::time::Instant;
fn main() {
    let a: Vec<String> = std::env::args().collect();
    let (store, digest, bundle) = (Path::new(&a[1]), &a[2], Path::new(&a[3]));
    let t = Instant::now();
    skiff_image::unpack::ensure_layers(store, digest).unwrap();
    println!("ensure_layers (cold or warm): {:?}", t.elapsed());
    for copy in [false, false, false, true] {
        let opts = skiff_image::bundle::BundleOptions {
            copy,
            ..Default::default()
        };
        let t = Instant::now();
        skiff_image::bundle::create_bundle(store, digest, bundle, &opts).unwrap();
        let c = t.elapsed();
        let t = Instant::now();
        skiff_image::bundle::remove_bundle(bundle).unwrap();
        println!(
            "create_bundle copy={copy}: {c:?}; remove_bundle: {:?}",
            t.elapsed()
        );
    }
}
