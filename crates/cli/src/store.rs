//! The telemetry store of a data directory, opened to read it (`rein export`, `rein
//! review`): what the event log holds loaded first, or, while a server holds the
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
    let serving = crate::catch_up(&store, data_dir)?;
    Ok((store, serving))
}
