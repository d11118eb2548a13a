//! The `twofold` binary: everything lives in the library; this only hands
//! over the process exit status.

fn main() -> std::process::ExitCode {
    twofold::cli::main()
}
