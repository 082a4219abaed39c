//! Generates the Rust code for every contract under `homeward/`. protoc comes from
//! `protoc-bin-vendored`, so a plain `cargo build` needs nothing installed.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for service in ["common", "registry", "exchange", "notification"] {
        let dir = root.join("homeward").join(service).join("v1");
        if !dir.exists() {
            continue;
        }
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            if path.extension().is_some_and(|e| e == "proto") {
                println!("cargo:rerun-if-changed={}", path.display());
                files.push(path);
            }
        }
    }
    files.sort();

    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    let mut config = prost_build::Config::new();
    config.protoc_executable(protoc_bin_vendored::protoc_bin_path()?);
    // Type names let events travel as google.protobuf.Any.
    config.enable_type_names();
    tonic_prost_build::configure()
        .file_descriptor_set_path(out.join("homeward_descriptor.bin"))
        .compile_with_config(
            config,
            &files,
            &[root.clone(), protoc_bin_vendored::include_path()?],
        )?;
    Ok(())
}
