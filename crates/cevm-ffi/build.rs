//! Compiles the C half of the exception machinery (src/exc.c) into the library.

fn main() {
    println!("cargo:rerun-if-changed=src/exc.c");
    println!("cargo:rerun-if-changed=../../include/ce/cevm_seh.h");
    cc::Build::new()
        .file("src/exc.c")
        .include("../../include/ce")
        .flag_if_supported("-std=gnu11")
        .warnings(true)
        .compile("cevm_exc");
}
