//! The telemetry store of a data directory, opened to read it (`rein export`, `goals`,
//! `report`, `review`, `models history`, `profile --since`): what the event log holds loaded first, or, while a server holds the
//! directory, its loader waited for.

use std::path::Path;
use std::sync::Arc;

use rein_telemetry::SqliteStore;

/// The store in `data_dir`, with every answered event in it; and whether a server holding
/// the directory had not loaded its newest events within 2 s (they are then left out).
pub fn open_to_read(data_dir: &Path) -> Result<(Arc<SqliteStore>, bool), String> {
    if !rein_telemetry::DataDir::at(data_dir).database().is_file() {
        return Err(format!(
            "no telemetry store in {}: serve the system with --data-dir {} first (or pass the right --data-dir)",
            data_dir.display(),
            data_dir.display()
        ));
    }
    let store = Arc::new(SqliteStore::open(data_dir).map_err(|e| e.to_string())?);
    let serving = catch_up(&store, data_dir)?;
    Ok((store, serving))
}

/// Why `what` leaves out the newest events: the serving rein did not load them in time.
pub fn behind_note(data_dir: &Path, what: &str) -> String {
    format!(
        "note: the rein serving {} did not load its newest events into the store within 2 s: they are not in {what} \
         (its store may be stalled; see its /v2/health/ready)",
        data_dir.display()
    )
}

/// Loads into the store what the data directory's event log holds, when no server holds the
/// directory (one that does loads it itself); returns whether one does.
pub(crate) fn catch_up(store: &Arc<rein_telemetry::SqliteStore>, data_dir: &std::path::Path) -> Result<bool, String> {
    let dir = match rein_telemetry::DataDir::lock(data_dir) {
        Ok(dir) => dir,
        Err(rein_telemetry::DataDirError::InUse { .. }) => return Ok(!serving_loader_caught_up(store, data_dir)),
        Err(e) => return Err(e.to_string()),
    };
    let config = rein_telemetry::WriterConfig::default();
    let writer = rein_telemetry::Writer::start(store.clone(), &dir, config, rein_telemetry::clock::system())
        .map_err(|e| e.to_string())?;
    crate::runtime()?.block_on(writer.shutdown());
    Ok(false)
}

/// While a server holds the data: waits (2 s at most) until its loader has put into the store
/// everything its log held when the export began, as it does within 50 ms; whether it did.
fn serving_loader_caught_up(store: &rein_telemetry::SqliteStore, data_dir: &std::path::Path) -> bool {
    use rein_telemetry::Store;
    let Ok(ends) = rein_telemetry::log::ends_on_disk(&rein_telemetry::DataDir::at(data_dir).log()) else {
        return false;
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    while std::time::Instant::now() < deadline {
        let Ok(stored) = store.log_positions() else { return false };
        let caught_up = ends
            .iter()
            .all(|end| stored.iter().any(|p| p.stream == end.stream && p.offset >= end.offset) || end.offset == 0);
        if caught_up {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    false
}
