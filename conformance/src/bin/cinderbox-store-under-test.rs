//! The `cinderbox-store` command line, built inside this package so that its black-box
//! tests (`tests/store_cli.rs`) get it from Cargo as `CARGO_BIN_EXE_…`, always current.
//! The driver's own binary is the same one call.

fn main() -> std::process::ExitCode {
    cinderbox_driver::cli::main()
}
