//! The release artefacts (issue 8): the static binary
//! (`packaging/build-static.sh`), the Debian package
//! (`packaging/build-deb.sh`) and the systemd unit, built from this checkout
//! and checked the way an operator would: `ldd`, `dpkg-deb -c/-I`, an
//! install into a throwaway root, `lovebeat -version` and `-check-config`
//! from there, and `systemd-analyze verify` on the installed unit.
//! Needs Debian's dpkg and systemd packages (installed by `.ci/run`).

mod common;

use common::tools::{self, Tool};
use common::TempDir;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The size the static binary must stay under.
const MAX_BINARY_BYTES: u64 = 8 * 1024 * 1024;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn run(cmd: &mut Command) -> Output {
    let shown = format!("{cmd:?}");
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {shown}: {e} (does .ci/run install it?)"));
    assert!(
        out.status.success(),
        "{shown} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn last_line(out: &Output) -> PathBuf {
    let stdout = String::from_utf8_lossy(&out.stdout);
    PathBuf::from(stdout.lines().last().unwrap_or_default().trim())
}

#[test]
fn static_binary_debian_package_and_systemd_unit() {
    let needs = [
        Tool::Program("dpkg-deb"),
        Tool::Program("systemd-analyze"),
        Tool::File("/usr/lib/x86_64-linux-gnu/libc.a"),
    ];
    if !tools::available("the packaging test", &needs) {
        return;
    }
    // The static build, in its own target dir.
    let built = run(Command::new(root().join("packaging/build-static.sh"))
        .arg("--quiet")
        .env_remove("CARGO_TARGET_DIR"));
    let binary = root().join(last_line(&built));
    let ldd = Command::new("ldd").arg(&binary).output().expect("ldd");
    let ldd = text(&ldd);
    assert!(
        ldd.contains("statically linked") || ldd.contains("not a dynamic executable"),
        "ldd says the release binary is dynamic:\n{ldd}"
    );
    let size = std::fs::metadata(&binary).expect("binary").len();
    eprintln!("static binary: {} ({size} bytes)", binary.display());
    assert!(size < MAX_BINARY_BYTES, "the static binary is {size} bytes");

    // The package.
    let out_dir = TempDir::new("deb");
    let deb = last_line(&run(Command::new(root().join("packaging/build-deb.sh"))
        .arg(&binary)
        .env("DEB_OUT_DIR", out_dir.path())));
    let listing = text(&run(Command::new("dpkg-deb").arg("-c").arg(&deb)));
    for (path, mode) in [
        ("./usr/sbin/lovebeat", "-rwxr-xr-x"),
        ("./etc/lovebeat.toml", "-rw-r--r--"),
        ("./etc/lovebeat.conf.d/", "drwxr-xr-x"),
        ("./lib/systemd/system/lovebeat.service", "-rw-r--r--"),
        ("./usr/lib/nagios/plugins/check_lovebeat", "-rwxr-xr-x"),
        ("./usr/share/doc/lovebeat/README.md", "-rw-r--r--"),
        (
            "./usr/share/doc/lovebeat/lovebeat.toml.example",
            "-rw-r--r--",
        ),
        ("./usr/share/doc/lovebeat/copyright", "-rw-r--r--"),
    ] {
        let line = listing
            .lines()
            .find(|l| l.ends_with(&format!(" {path}")))
            .unwrap_or_else(|| panic!("{path} is not in the package:\n{listing}"));
        assert!(line.starts_with(mode), "{line}");
        assert!(line.contains("root/root"), "{line}");
    }
    let info = text(&run(Command::new("dpkg-deb").arg("-I").arg(&deb)));
    assert!(info.contains("Package: lovebeat"), "{info}");
    assert!(info.contains("Architecture: amd64"), "{info}");
    let package = text(&run(Command::new("dpkg-deb")
        .arg("-f")
        .arg(&deb)
        .arg("Package")));
    assert_eq!(package.trim(), "lovebeat");
    let ctrl = TempDir::new("deb-ctrl");
    run(Command::new("dpkg-deb")
        .arg("-e")
        .arg(&deb)
        .arg(ctrl.path()));
    assert_eq!(
        std::fs::read_to_string(ctrl.path().join("conffiles")).expect("conffiles"),
        "/etc/lovebeat.toml\n"
    );

    // Installed into a throwaway root, it runs and its config is valid.
    let sysroot = TempDir::new("deb-root");
    run(Command::new("dpkg-deb")
        .arg("-x")
        .arg(&deb)
        .arg(sysroot.path()));
    let installed = sysroot.path().join("usr/sbin/lovebeat");
    let version = text(&run(Command::new(&installed).arg("-version")));
    assert!(version.starts_with("lovebeat "), "{version}");
    let checked = text(&run(Command::new(&installed)
        .arg("-check-config")
        .arg("-config")
        .arg(sysroot.path().join("etc/lovebeat.toml"))
        .arg("-config-dir")
        .arg(sysroot.path().join("etc/lovebeat.conf.d"))));
    assert!(checked.contains("configuration OK"), "{checked}");

    // The unit verifies cleanly against that root (the host's own units
    // supply the targets it refers to). Warnings count as failures.
    let units = sysroot.path().join("lib/systemd/system");
    run(Command::new("cp")
        .arg("-rn")
        .arg("/lib/systemd/system/.")
        .arg(&units));
    let verify = run(Command::new("systemd-analyze")
        .arg("verify")
        .arg(format!("--root={}", sysroot.path().display()))
        .arg("lovebeat.service"));
    let said = text(&verify);
    assert!(
        said.trim().is_empty(),
        "systemd-analyze verify warns:\n{said}"
    );
}
