//! Runs the conformance suite against both backends.

mod common;

mod memory {
    use berth_store::MemoryStore;
    use berth_store::conformance::Setup;

    berth_store::conformance_tests!(async |setup: Setup| MemoryStore::with_watch_history(
        setup.watch_history
    ));

    /// `run_all` itself works (it is what other crates may call).
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn run_all() {
        berth_store::conformance::run_all(async |setup: Setup| {
            MemoryStore::with_watch_history(setup.watch_history)
        })
        .await;
    }
}

mod redb {
    use super::common::TempRedb;
    use berth_store::conformance::Setup;

    berth_store::conformance_tests!(async |setup: Setup| TempRedb::new(setup));
}
