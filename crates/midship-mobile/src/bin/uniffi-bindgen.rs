//! UniFFI's generator, built from the same UniFFI version as the library it reads.

fn main() {
    uniffi::uniffi_bindgen_main()
}
