//! `cinderbox-store`: the multi-store cinder image store on the command line.

fn main() -> std::process::ExitCode {
    cinderbox_driver::cli::main()
}
