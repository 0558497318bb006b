//! The `lovebeat` binary: everything happens in `lovebeat::server`, or in
//! `lovebeat::run` for `lovebeat run`.

fn main() -> std::process::ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    // `lovebeat run NAME -- cmd`: the binary as a job wrapper (SPEC 17).
    if args.first().is_some_and(|a| a == "run") {
        return lovebeat::run::main(args[1..].to_vec());
    }
    // More connections than the usual soft limit of 1024 descriptors (the
    // hard limit is what an administrator allows); failing is harmless,
    // the HTTP connection cap follows the limit in force.
    let _ = lovebeat::http::raise_nofile_limit();
    lovebeat::server::main(args)
}
