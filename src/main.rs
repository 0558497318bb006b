//! The `lovebeat` binary: everything happens in `lovebeat::server`.

fn main() -> std::process::ExitCode {
    lovebeat::server::main(std::env::args_os().skip(1).collect())
}
