fn main() {
    let a: Vec<String> = std::env::args().collect();
    let f = std::fs::File::open(&a[1]).unwrap();
    let _ = std::fs::remove_dir_all(&a[2]);
    std::fs::create_dir_all(&a[2]).unwrap();
    let t = std::time::Instant::now();
    let s = skiff_image::unpack::extract_layer(f, std::path::Path::new(&a[2]), &Default::default())
        .unwrap();
    let e = t.elapsed();
    println!(
        "{} entries {} MB in {:?}: {:.0} MB/s",
        s.entries,
        s.bytes >> 20,
        e,
        s.bytes as f64 / 1048576.0 / e.as_secs_f64()
    );
}
