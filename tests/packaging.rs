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

/// The size the static binary must stay under. It was 8 MiB until the alert
/// policy, ten alert channels and four peers' protocols (SPEC 15-17) took
/// the binary from 7.7 to about 8.7 MB (8,656,712 bytes with 15 and 16);
/// 10 MiB still fits a small host, and the next step is to shrink it
/// (dependencies at `opt-level = "s"`, measured with cargo-bloat) rather
/// than to raise this again.
const MAX_BINARY_BYTES: u64 = 10 * 1024 * 1024;

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

/// The `Dockerfile` at the root, built with Debian's podman from the static
/// binary just built, and inspected: its settings, and a filesystem of
/// exactly the binary and the state directory owned by the user it runs as.
/// (Running it needs namespaces and rlimits this sandbox refuses, so the
/// binary is run from the exported filesystem instead.)
fn container_image_holds_the_static_binary(binary: &Path) {
    let tag = format!("localhost/lovebeat-test:{}", std::process::id());
    run(Command::new("podman")
        .args(["build", "-q", "-t", &tag])
        .arg(root()));
    let config = text(&run(Command::new("podman").args([
        "image",
        "inspect",
        "--format",
        "{{json .Config}}",
        &tag,
    ])));
    let config: serde_json::Value = serde_json::from_str(config.trim()).expect("image config");
    assert_eq!(
        config["Entrypoint"],
        serde_json::json!(["/usr/sbin/lovebeat"])
    );
    assert_eq!(config["User"], "65534:65534");
    assert_eq!(config["WorkingDir"], "/var/lib/lovebeat");
    assert!(
        config["Volumes"]["/var/lib/lovebeat"].is_object(),
        "{config}"
    );
    for port in ["8080/tcp", "8127/udp", "8127/tcp"] {
        assert!(config["ExposedPorts"][port].is_object(), "{port}: {config}");
    }
    let container = text(&run(Command::new("podman").args(["create", &tag])));
    let export = TempDir::new("image-fs");
    let tar = export.path().join("fs.tar");
    run(Command::new("podman")
        .args(["export", "-o"])
        .arg(&tar)
        .arg(container.trim()));
    let _ = Command::new("podman")
        .args(["rm", container.trim()])
        .output();
    let _ = Command::new("podman").args(["rmi", "-f", &tag]).output();
    let listing = text(&run(Command::new("tar").arg("-tvf").arg(&tar)));
    let files: Vec<&str> = listing
        .lines()
        .filter(|l| !l.starts_with('d'))
        .filter_map(|l| l.split_whitespace().last())
        .collect();
    assert_eq!(
        files,
        ["usr/sbin/lovebeat", "var/lib/lovebeat/.keep"],
        "{listing}"
    );
    let state_dir = listing
        .lines()
        .find(|l| l.ends_with(" var/lib/lovebeat/"))
        .unwrap_or_else(|| panic!("no state directory:\n{listing}"));
    assert!(state_dir.contains("65534/65534"), "{state_dir}");
    run(Command::new("tar")
        .arg("-xf")
        .arg(&tar)
        .arg("-C")
        .arg(export.path()));
    let inside = export.path().join("usr/sbin/lovebeat");
    assert_eq!(
        std::fs::read(&inside).expect("the image's binary"),
        std::fs::read(binary).expect("the static binary"),
        "the image holds another binary"
    );
    let version = text(&run(Command::new(&inside).arg("-version")));
    assert!(version.starts_with("lovebeat "), "{version}");
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
        Tool::Program("groff"),
        Tool::Program("podman"),
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

    container_image_holds_the_static_binary(&binary);

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
        ("./usr/share/man/man1/lovebeat.1.gz", "-rw-r--r--"),
    ] {
        let line = listing
            .lines()
            .find(|l| l.ends_with(&format!(" {path}")))
            .unwrap_or_else(|| panic!("{path} is not in the package:\n{listing}"));
        assert!(line.starts_with(mode), "{line}");
        assert!(line.contains("root/root"), "{line}");
    }
    // The man page it installs renders without a single groff warning.
    let man = run(Command::new("groff")
        .args(["-man", "-ww", "-z"])
        .arg(root().join("packaging/man/lovebeat.1")));
    assert!(
        man.stderr.is_empty(),
        "groff warns about the man page:\n{}",
        String::from_utf8_lossy(&man.stderr)
    );
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
    // `ExecReload=/bin/kill ...`: procps' kill, on every Debian system.
    std::fs::create_dir_all(sysroot.path().join("bin")).expect("bin dir");
    run(Command::new("cp")
        .arg("/bin/kill")
        .arg(sysroot.path().join("bin/kill")));
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
