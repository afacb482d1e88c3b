//! Tests only: the kernel's own uAPI headers as the oracle for the structures, constants and
//! ioctl numbers that `gpio_uapi` and `input` mirror by hand. A small C program, written to
//! a temporary directory, is compiled with `cc` against `/usr/include/linux/*.h` (Debian:
//! gcc, linux-libc-dev) and run; the tests compare what it prints with the same facts
//! computed on our side. Tests that use this are `#[ignore = "needs cc and linux-libc-dev"]`;
//! with `--include-ignored` a missing compiler or header fails them, it never skips.

use std::path::PathBuf;
use std::process::Command;

/// A compiled oracle program (deleted with its temporary directory on drop).
pub struct Oracle {
    _dir: tempfile::TempDir,
    exe: PathBuf,
}

impl Oracle {
    /// Compile `program` (C11, warnings are errors).
    pub fn build(program: &str) -> Oracle {
        let dir = tempfile::tempdir().expect("temporary directory");
        let src = dir.path().join("oracle.c");
        let exe = dir.path().join("oracle");
        std::fs::write(&src, program).expect("write oracle.c");
        let out = Command::new("cc")
            .args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-o"])
            .arg(&exe)
            .arg(&src)
            .output()
            .unwrap_or_else(|e| panic!("cc: {e} (apt-get install gcc linux-libc-dev)"));
        assert!(
            out.status.success(),
            "cc failed (apt-get install gcc linux-libc-dev):\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        Oracle { _dir: dir, exe }
    }

    /// Run it with `args`; its output lines.
    pub fn run(&self, args: &[&str]) -> Vec<String> {
        let out = Command::new(&self.exe)
            .args(args)
            .output()
            .expect("run oracle");
        assert!(
            out.status.success(),
            "oracle {args:?}: {}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout)
            .expect("oracle output is UTF-8")
            .lines()
            .map(str::to_string)
            .collect()
    }
}

/// Lowercase hex of `bytes`, as the oracles print them.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The size of the field `field` picks out of a `T` (with `offset_of!`, a field's place).
pub fn size_of_field<T, F>(_field: fn(&T) -> &F) -> usize {
    size_of::<F>()
}

/// Compare line by line, so that a failure names the first fact that differs.
pub fn assert_same(header: &[String], ours: &[String]) {
    for (h, o) in header.iter().zip(ours) {
        assert_eq!(h, o, "the kernel header (left) and ours (right) differ");
    }
    assert_eq!(
        header.len(),
        ours.len(),
        "header: {header:#?}\nours: {ours:#?}"
    );
}
