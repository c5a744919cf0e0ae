//! Content diff of two package zips, as the server makes it and the SDK applies it:
//! `cargo run --release -p midship-package --example package-diff -- OLD.zip NEW.zip`.
//! Prints one JSON line: sizes, the time to make and to apply the patch, and whether every
//! rebuilt file matched the new version's manifest.

use std::time::Instant;

use midship_package::{
    ArchiveLimits, PackageManifest, apply_content_patch, create_content_patch, read_zip, sha256_hex,
};

fn main() {
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    let [old_path, new_path] = arguments.as_slice() else {
        eprintln!("usage: package-diff OLD.zip NEW.zip");
        std::process::exit(2);
    };
    let old_zip = std::fs::read(old_path).expect("OLD.zip is readable");
    let new_zip = std::fs::read(new_path).expect("NEW.zip is readable");
    let old = read_zip(&old_zip, ArchiveLimits::default()).expect("OLD.zip is a zip");
    let new = read_zip(&new_zip, ArchiveLimits::default()).expect("NEW.zip is a zip");
    let manifest = PackageManifest {
        workspace_id: String::new(),
        kind: "h5".into(),
        app_id: String::new(),
        version: String::new(),
        package_sha256: sha256_hex(&new_zip),
        package_size: new_zip.len() as u64,
        files: PackageManifest::file_entries(&new),
    };
    let started = Instant::now();
    let patch = create_content_patch(&old, &new);
    let create_ms = started.elapsed().as_secs_f64() * 1000.0;
    let started = Instant::now();
    let rebuilt = apply_content_patch(&old, &patch, u64::MAX).expect("the patch applies");
    let verified = manifest.check_files(&rebuilt).is_ok();
    let apply_ms = started.elapsed().as_secs_f64() * 1000.0;
    let unpacked: usize = new.values().map(Vec::len).sum();
    println!(
        "{{\"full_zip\": {}, \"unpacked\": {unpacked}, \"files\": {}, \"patch\": {}, \"create_ms\": {create_ms:.1}, \"apply_and_verify_ms\": {apply_ms:.1}, \"verified\": {verified}}}",
        new_zip.len(),
        new.len(),
        patch.len()
    );
}
