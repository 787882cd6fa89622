//! Compiles the C half of the C ABI figures (c/cabi.c) against cevm's headers; it calls
//! libcevm's CE functions, which the cevm-ffi dependency links in. Linux only, as the C
//! front is.

fn main() {
    println!("cargo:rerun-if-changed=c/cabi.c");
    println!("cargo:rerun-if-changed=../../include");
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() != Ok("linux") {
        return;
    }
    cc::Build::new()
        .file("c/cabi.c")
        .include("../../include")
        .include("../../include/ce")
        .flag_if_supported("-std=gnu11")
        .opt_level(2)
        .warnings(true)
        .compile("cevm_cbench");
}
