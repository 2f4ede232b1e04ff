//! A `berth server` child process on a free loopback port and a temporary data directory, so a
//! benchmark measures the server as users run it, with its own threads and its own fsyncs.

use std::net::{SocketAddr, TcpListener};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// A server process that is killed when dropped.
pub struct ServerProcess {
    /// Where it listens.
    pub addr: SocketAddr,
    child: Child,
    _data_dir: tempfile::TempDir,
}

impl ServerProcess {
    /// Starts `berth server` from this very executable, with `extra` flags after its own, and
    /// waits until it answers `/health`.
    pub async fn start(extra: &[&str]) -> anyhow::Result<Self> {
        let data_dir = tempfile::Builder::new()
            .prefix("berth-bench-")
            .tempdir()
            .context("failed to create a data directory")?;
        let addr = free_port()?;
        let child = Command::new(std::env::current_exe().context("cannot find the berth executable")?)
            .args(["server", "--listen", &addr.to_string(), "--data-dir"])
            .arg(data_dir.path())
            .args(extra)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .context("failed to start berth server")?;
        let server = ServerProcess { addr, child, _data_dir: data_dir };
        server.wait_ready().await?;
        Ok(server)
    }

    async fn wait_ready(&self) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if tokio::net::TcpStream::connect(self.addr).await.is_ok() {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        bail!("berth server did not start listening on {} within 20 s", self.addr)
    }

    /// The server's CPU time so far, in seconds.
    pub fn cpu_seconds(&self) -> Option<f64> {
        cpu_seconds(self.child.id())
    }

    /// What the server has written so far.
    pub fn writes(&self) -> Option<Writes> {
        writes(self.child.id())
    }

    /// The server's resident set size in MiB, from /proc.
    pub fn rss_mib(&self) -> Option<f64> {
        rss_mib(self.child.id())
    }
}

/// The CPU time a process has used so far (user and system, all threads), in seconds, from
/// /proc: how much of the machine a benchmark's figure cost, which a loaded machine does not
/// change as much as it changes the elapsed time.
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name, in parentheses, may hold spaces: the fields that follow come after the
    // last ')'. utime and stime are the 14th and 15th fields, the 12th and 13th after it.
    let after_name = &stat[stat.rfind(')')? + 1..];
    let mut fields = after_name.split_whitespace().skip(11);
    let user: f64 = fields.next()?.parse().ok()?;
    let system: f64 = fields.next()?.parse().ok()?;
    // /proc counts in USER_HZ, which Linux fixes at 100 on every architecture it exports it.
    const USER_HZ: f64 = 100.0;
    Some((user + system) / USER_HZ)
}

/// A process's resident set size in MiB, from /proc.
pub fn rss_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// What a process has written so far, from /proc/PID/io.
#[derive(Debug, Clone, Copy)]
pub struct Writes {
    /// Bytes the process caused to be sent to storage (its store's page writes, not its
    /// sockets').
    pub disk_bytes: u64,
    /// Write system calls of every kind: files and sockets alike.
    pub calls: u64,
}

impl Writes {
    /// What was written between `before` and `self`.
    pub fn since(self, before: Writes) -> Writes {
        Writes {
            disk_bytes: self.disk_bytes.saturating_sub(before.disk_bytes),
            calls: self.calls.saturating_sub(before.calls),
        }
    }
}

/// A process's write counters (unknown where /proc does not tell, as for another user's).
pub fn writes(pid: u32) -> Option<Writes> {
    parse_writes(&std::fs::read_to_string(format!("/proc/{pid}/io")).ok()?)
}

/// The write counters of a `/proc/PID/io` text: `name: value` lines.
fn parse_writes(io: &str) -> Option<Writes> {
    let field = |name: &str| -> Option<u64> {
        io.lines().find_map(|line| line.strip_prefix(name)?.strip_prefix(':')?.trim().parse().ok())
    };
    Some(Writes { disk_bytes: field("write_bytes")?, calls: field("syscw")? })
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> anyhow::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").context("failed to find a free port")?;
    Ok(listener.local_addr()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_counters_are_read_by_name_not_by_position() {
        let io = "rchar: 9442\nwchar: 415227093\nsyscr: 24\nsyscw: 127407\nread_bytes: 122880\n\
                  write_bytes: 430051328\ncancelled_write_bytes: 0\n";
        let writes = parse_writes(io).expect("parsed");
        assert_eq!((writes.disk_bytes, writes.calls), (430_051_328, 127_407));
        assert!(parse_writes("rchar: 1\n").is_none(), "a text without the counters tells nothing");
        let later = Writes { disk_bytes: 430_051_328 + 4096, calls: 127_408 };
        let written = later.since(writes);
        assert_eq!((written.disk_bytes, written.calls), (4096, 1));
    }

    #[test]
    fn this_process_has_write_counters() {
        assert!(writes(std::process::id()).is_some(), "Linux exports /proc/self/io to its owner");
    }
}
