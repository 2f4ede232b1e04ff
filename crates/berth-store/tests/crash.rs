//! Durability: every transaction acknowledged before a SIGKILL is there after reopening.
//!
//! The test re-runs this test binary as a child process in "writer" mode (selected by an
//! environment variable, see [`crash_writer_child`]). The child opens a [`RedbStore`] and runs
//! concurrent writers that print each key only after its transaction returned `Committed`. The
//! parent reads those lines, kills the child with SIGKILL at a random moment, reopens the store
//! and checks that every printed key is present — ten rounds on the same file, so each round
//! also opens a file left by a crash.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use berth_store::{Compare, Op, RedbStore, Store, Txn, TxnOutcome};

/// Set (to the store's path) only in the child process.
const CHILD_DB: &str = "BERTH_STORE_CRASH_CHILD_DB";
/// The round number, which the child puts in its keys.
const CHILD_ROUND: &str = "BERTH_STORE_CRASH_CHILD_ROUND";
const ROUNDS: u32 = 10;
const WRITERS: usize = 32;
/// The child stops by itself after this long if it was somehow not killed.
const CHILD_LIFETIME: Duration = Duration::from_secs(30);
const ACK: &str = "ACK ";

/// The child's entry point: does nothing in a normal test run.
#[test]
fn crash_writer_child() {
    let (Ok(path), Ok(round)) = (std::env::var(CHILD_DB), std::env::var(CHILD_ROUND)) else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    runtime.block_on(write_until_killed(Path::new(&path), &round));
}

async fn write_until_killed(path: &Path, round: &str) {
    let store = Arc::new(RedbStore::open(path).expect("the child opens the store"));
    let started = Instant::now();
    let writers: Vec<_> = (0..WRITERS)
        .map(|writer| {
            let (store, round) = (Arc::clone(&store), round.to_owned());
            tokio::spawn(async move {
                let mut seq = 0u64;
                while started.elapsed() < CHILD_LIFETIME {
                    let key = format!("/crash/{round}/{writer:02}/{seq:08}");
                    let txn = Txn::new().when(Compare::absent(&key)).then(Op::put(&key, key.as_bytes()));
                    match store.txn(txn).await.expect("txn") {
                        TxnOutcome::Committed { .. } => {
                            let mut out = std::io::stdout().lock();
                            writeln!(out, "{ACK}{key}").expect("stdout");
                            out.flush().expect("stdout");
                        }
                        TxnOutcome::Failed => panic!("{key} existed before it was written"),
                    }
                    seq += 1;
                }
            })
        })
        .collect();
    for writer in writers {
        writer.await.expect("writer");
    }
}

/// A pseudo-random number below `bound` (std's randomly keyed hasher, fed the clock).
fn random_below(bound: u64) -> u64 {
    let mut hasher = RandomState::new().build_hasher();
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    hasher.write_u128(now.as_nanos());
    hasher.finish() % bound
}

/// Runs one child until a random moment after its first acknowledgement, kills it and returns
/// the keys it acknowledged.
fn run_and_kill(path: &Path, round: u32) -> Vec<String> {
    let exe = std::env::current_exe().expect("the test binary's path");
    let mut child = Command::new(exe)
        .args(["--exact", "crash_writer_child", "--nocapture", "--test-threads=1"])
        .env(CHILD_DB, path)
        .env(CHILD_ROUND, round.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn the writer child");
    let stdout = child.stdout.take().expect("piped stdout");
    let (lines_tx, lines) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(key) = line.strip_prefix(ACK) {
                // The receiver only goes away once the child is dead.
                let _ = lines_tx.send(key.to_owned());
            }
        }
    });
    let first = lines.recv_timeout(Duration::from_secs(20)).expect("the child acknowledged nothing");
    std::thread::sleep(Duration::from_millis(random_below(150)));
    child.kill().expect("SIGKILL the child");
    let status = child.wait().expect("reap the child");
    assert!(!status.success(), "the child was killed, it cannot have exited cleanly");
    reader.join().expect("stdout reader");
    std::iter::once(first).chain(lines.try_iter()).collect()
}

#[test]
fn acknowledged_writes_survive_sigkill() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("crash.redb");
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let mut total = 0;
    for round in 0..ROUNDS {
        let acknowledged = run_and_kill(&path, round);
        total += acknowledged.len();
        runtime.block_on(async {
            let store = RedbStore::open(&path).expect("the store opens cleanly after SIGKILL");
            for key in &acknowledged {
                let kv = store.get(key).await.expect("get").unwrap_or_else(|| {
                    panic!("round {round}: acknowledged {key} is missing after the crash")
                });
                assert_eq!(kv.value, key.as_bytes());
            }
            let stored = store.range(&format!("/crash/{round}/"), None, 0).await.expect("range");
            assert!(stored.kvs.len() >= acknowledged.len());
            // The reopened store takes writes again.
            store.txn(Txn::new().then(Op::put("/crash/reopened", round.to_string()))).await.expect("txn");
            println!("round {round}: {} acknowledged, {} stored", acknowledged.len(), stored.kvs.len());
        });
    }
    println!("{total} acknowledged writes over {ROUNDS} SIGKILLs, all present");
}
