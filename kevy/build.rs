//! Build script: compiles `csrc/longdouble.c`, the `long double` arithmetic
//! behind INCRBYFLOAT (see `src/cmd/strings/float.rs`).

fn main() {
    println!("cargo:rerun-if-changed=csrc/longdouble.c");
    cc::Build::new()
        .file("csrc/longdouble.c")
        .warnings(true)
        .compile("kevy_longdouble");
}
