//! What several of the `rein` command's tests share.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// `rein serve SYSTEM --addr 127.0.0.1:0 --telemetry TELEMETRY --data-dir DATA_DIR`, its log
/// going to `stderr`, and the address its first line of output says it listens on.
pub fn serve(system: &Path, telemetry: &str, data_dir: &Path, stderr: Stdio) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_rein"))
        .args(["serve", system.to_str().unwrap(), "--addr", "127.0.0.1:0", "--telemetry", telemetry, "--data-dir"])
        .arg(data_dir)
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .expect("rein serve starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let Some(addr) = line.split("http://").nth(1).and_then(|s| s.split(',').next()) else {
        let _ = child.kill();
        panic!("rein serve {}: {line}", system.display());
    };
    (child, addr.to_string())
}
