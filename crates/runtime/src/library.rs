//! Finding and loading the ONNX Runtime shared library, once per process.
//!
//! `ort` is built with `load-dynamic`: nothing is linked at build time, and the
//! first `ort` API call would panic if the library were missing. So the library is
//! loaded here, explicitly, before any session is made, and a failure becomes a
//! [`RuntimeError::Library`] that says what was tried and how to install it.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use ort::environment::Environment;

use crate::RuntimeError;

/// Where `scripts/setup-onnxruntime.sh` installs the library, relative to the repository root.
pub const PROJECT_LIBRARY: &str = ".rein/onnxruntime/libonnxruntime.so";
/// The ONNX Runtime version rein is built and tested against (`ort` feature `api-22`).
pub const ONNXRUNTIME_VERSION: &str = "1.22.1";

/// A loaded ONNX Runtime: the process-wide environment sessions are made from.
/// Cheap to clone; every clone shares the one environment.
#[derive(Clone)]
pub struct Runtime {
    inner: Arc<Inner>,
}

struct Inner {
    env: Environment,
    library: PathBuf,
    cpu: CpuProvider,
}

/// `OrtSessionOptionsAppendExecutionProvider_CPU`, exported by `libonnxruntime.so`
/// outside the `OrtApi` table.
///
/// Why: ort rc.15 (feature `api-22`) sets an automatic device-selection policy on every
/// session builder. ONNX Runtime 1.22 on Linux discovers no devices, so that policy fails
/// ("No CPU based execution providers were found") or even aborts the process (a C++
/// assertion in the NPU policy). ONNX Runtime skips the policy when the session options
/// already hold an execution provider, so rein appends the CPU provider explicitly.
type AppendCpu = unsafe extern "C" fn(*mut ort::sys::OrtSessionOptions, std::ffi::c_int) -> *mut ort::sys::OrtStatus;

struct CpuProvider {
    append: AppendCpu,
    // Keeps the library (already loaded by ort; this is one more reference) mapped.
    _library: libloading::Library,
}

impl CpuProvider {
    #[allow(unsafe_code)] // ONNX Runtime's C API, as SAFETY below says
    fn open(path: &Path) -> Result<CpuProvider, String> {
        // SAFETY: the same library ort just loaded and checked; loading it again only
        // takes a reference. The symbol's signature is ONNX Runtime's C declaration.
        unsafe {
            let library = libloading::Library::new(path).map_err(|e| e.to_string())?;
            let append = *library
                .get::<AppendCpu>(b"OrtSessionOptionsAppendExecutionProvider_CPU\0")
                .map_err(|e| format!("it does not export OrtSessionOptionsAppendExecutionProvider_CPU: {e}"))?;
            Ok(CpuProvider { append, _library: library })
        }
    }
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime").field("library", &self.inner.library).finish()
    }
}

static RUNTIME: Mutex<Option<Runtime>> = Mutex::new(None);

impl Runtime {
    /// Loads ONNX Runtime, or returns the runtime this process already loaded.
    ///
    /// Tried in order: the `ORT_DYLIB_PATH` environment variable; `configured` (the
    /// system file's `runtime.onnxruntime`); then `.rein/onnxruntime/libonnxruntime.so`
    /// in the current folder or any parent, and in the system file's folder or any parent.
    /// The library is loaded once per process: later calls return the same runtime
    /// whatever paths they pass. A failed attempt is not remembered, so a later call may
    /// succeed once the library is installed.
    pub fn init(configured: Option<&Path>, system_file: Option<&Path>) -> Result<Runtime, RuntimeError> {
        let mut slot = RUNTIME.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(runtime) = slot.as_ref() {
            return Ok(runtime.clone());
        }
        let candidates = candidates(std::env::var_os("ORT_DYLIB_PATH").map(PathBuf::from), configured, system_file);
        let mut tried = Vec::new();
        for candidate in candidates {
            match load(&candidate.path).and_then(|env| Ok((env, CpuProvider::open(&candidate.path)?))) {
                Ok((env, cpu)) => {
                    tracing::info!(library = %candidate.path.display(), source = candidate.source, "loaded ONNX Runtime");
                    let runtime = Runtime { inner: Arc::new(Inner { env, library: candidate.path, cpu }) };
                    *slot = Some(runtime.clone());
                    return Ok(runtime);
                }
                Err(reason) => tried.push((candidate.path, format!("{} ({})", reason, candidate.source))),
            }
        }
        Err(library_error(tried))
    }

    /// The runtime for a validated system: its `runtime.onnxruntime` setting and its file's folder.
    pub fn for_system(system: &rein_system::System) -> Result<Runtime, RuntimeError> {
        Runtime::init(system.runtime.onnxruntime.as_deref(), Some(&system.file))
    }

    /// The library file that was loaded.
    pub fn library(&self) -> &Path {
        &self.inner.library
    }

    pub(crate) fn environment(&self) -> &Environment {
        &self.inner.env
    }

    /// Appends ONNX Runtime's CPU execution provider (with its memory arena) to a
    /// session builder; see [`CpuProvider`] for why this is needed.
    #[allow(unsafe_code)] // ONNX Runtime's C API, as SAFETY below says
    pub(crate) fn append_cpu_provider(
        &self,
        builder: &mut ort::session::builder::SessionBuilder,
    ) -> Result<(), String> {
        use ort::AsPointer;
        // SAFETY: a valid, live OrtSessionOptions owned by the builder.
        let status = unsafe { (self.inner.cpu.append)(builder.ptr_mut(), 1) };
        if status.is_null() {
            return Ok(());
        }
        let api = ort::api();
        // SAFETY: a non-null OrtStatus returned by ONNX Runtime, released exactly once.
        let message = unsafe {
            let text = (api.GetErrorMessage)(status);
            let message = if text.is_null() {
                "unknown error".to_string()
            } else {
                std::ffi::CStr::from_ptr(text).to_string_lossy().into_owned()
            };
            (api.ReleaseStatus)(status);
            message
        };
        Err(format!("cannot add the CPU execution provider: {message}"))
    }
}

struct Candidate {
    path: PathBuf,
    source: &'static str,
}

fn absolute(path: &Path) -> PathBuf {
    if path.is_absolute() {
        return path.to_path_buf();
    }
    match std::env::current_dir() {
        Ok(cwd) => cwd.join(path),
        Err(_) => path.to_path_buf(),
    }
}

fn candidates(env_var: Option<PathBuf>, configured: Option<&Path>, system_file: Option<&Path>) -> Vec<Candidate> {
    let mut out: Vec<Candidate> = Vec::new();
    let mut push = |path: PathBuf, source: &'static str| {
        if !out.iter().any(|c| c.path == path) {
            out.push(Candidate { path, source });
        }
    };
    if let Some(path) = env_var.filter(|p| !p.as_os_str().is_empty()) {
        push(absolute(&path), "ORT_DYLIB_PATH");
    }
    if let Some(path) = configured {
        push(absolute(path), "runtime.onnxruntime in the system file");
    }
    let mut starts = Vec::new();
    if let Ok(cwd) = std::env::current_dir() {
        starts.push((cwd, "found upward from the current folder"));
    }
    if let Some(dir) = system_file.map(absolute).as_deref().and_then(Path::parent) {
        starts.push((dir.to_path_buf(), "found upward from the system file's folder"));
    }
    let mut searched_any = false;
    for (start, source) in starts {
        if let Some(found) = start.ancestors().map(|d| d.join(PROJECT_LIBRARY)).find(|p| p.exists()) {
            push(found, source);
            searched_any = true;
        }
    }
    if !searched_any {
        // Name the place the set-up script would install to, so the error says where we looked.
        if let Ok(cwd) = std::env::current_dir() {
            push(cwd.join(PROJECT_LIBRARY), "in the current folder or any parent");
        }
    }
    out
}

fn load(path: &Path) -> Result<Environment, String> {
    if !path.exists() {
        return Err("no such file".into());
    }
    // `ort` must never panic on us; a load that goes wrong is an error like any other.
    let attempt = catch_unwind(AssertUnwindSafe(|| -> Result<Environment, String> {
        let builder = ort::init_from(path).map_err(|e| e.to_string())?;
        builder.with_name("rein").with_telemetry(false).build().map_err(|e| e.to_string())
    }));
    match attempt {
        Ok(result) => result,
        Err(_) => Err("ONNX Runtime panicked while loading".into()),
    }
}

fn library_error(tried: Vec<(PathBuf, String)>) -> RuntimeError {
    let mut message = String::from("cannot load the ONNX Runtime library; tried:");
    for (path, reason) in &tried {
        message.push_str(&format!("\n  - {}: {}", path.display(), reason));
    }
    message.push_str(&format!(
        "\nto get it, run `scripts/setup-onnxruntime.sh` (installs {PROJECT_LIBRARY} in the repository), \
         or `pip install onnxruntime=={ONNXRUNTIME_VERSION}` and set ORT_DYLIB_PATH to \
         `.../site-packages/onnxruntime/capi/libonnxruntime.so.{ONNXRUNTIME_VERSION}`"
    ));
    RuntimeError::Library { tried, message }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_var_comes_first_then_configured() {
        let c = candidates(Some("/a/lib.so".into()), Some(Path::new("/b/lib.so")), None);
        assert_eq!(c[0].path, PathBuf::from("/a/lib.so"));
        assert_eq!(c[1].path, PathBuf::from("/b/lib.so"));
    }

    #[test]
    fn error_names_paths_and_remedy() {
        let e = library_error(vec![(PathBuf::from("/nowhere/libonnxruntime.so"), "no such file".into())]);
        let text = e.to_string();
        assert!(text.contains("/nowhere/libonnxruntime.so: no such file"), "{text}");
        assert!(text.contains("scripts/setup-onnxruntime.sh"), "{text}");
        assert!(text.contains("pip install onnxruntime==1.22.1"), "{text}");
        assert!(text.contains("ORT_DYLIB_PATH"), "{text}");
    }
}
