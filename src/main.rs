//! The `lovebeat` binary: everything happens in `lovebeat::server`.

fn main() -> std::process::ExitCode {
    // More connections than the usual soft limit of 1024 descriptors (the
    // hard limit is what an administrator allows); failing is harmless,
    // the HTTP connection cap follows the limit in force.
    let _ = lovebeat::http::raise_nofile_limit();
    lovebeat::server::main(std::env::args_os().skip(1).collect())
}
