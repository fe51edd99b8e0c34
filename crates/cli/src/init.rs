//! `rein init MODEL.onnx`: a commented system file drafted from the model's graph (its
//! inputs, the categories its encoders know, its class labels), which `rein check`
//! accepts and `rein serve` serves as it is. What the graph cannot say (bounds,
//! guardrails, the fallback's answer, the experience policy) is left as comments.

use std::fmt::Write as _;
use std::path::{Component as PathPart, Path, PathBuf};

use rein_runtime::{Binding, Draft, DraftFeature};
use rein_system::{FeatureKind, Task};

pub(crate) struct InitOptions {
    pub model: PathBuf,
    pub component: Option<String>,
    pub task: Option<Task>,
    pub out: Option<PathBuf>,
    pub force: bool,
}

pub(crate) fn parse_task(s: &str) -> Result<Task, String> {
    match s {
        "binary" => Ok(Task::Binary),
        "multiclass" => Ok(Task::Multiclass),
        "regression" => Ok(Task::Regression),
        other => Err(format!("`{other}` is not a task: use binary, multiclass or regression")),
    }
}

pub(crate) fn run(options: InitOptions) -> Result<(), String> {
    let draft = rein_runtime::draft(&options.model).map_err(|e| e.to_string())?;
    let cannot = |why: String| format!("cannot draft a system file from `{}`: {why}", options.model.display());
    let (task, labels) = draft.task(options.task).map_err(cannot)?;
    for f in &draft.features {
        if !is_name(&f.name) {
            return Err(cannot(format!(
                "its input `{}` cannot be a feature's name ({NAME_RULE}), and rein binds each input to the feature \
                 of its name: name the inputs at export (skl2onnx: `initial_types=[('amount', FloatTensorType([None, \
                 1])), ...]`)",
                f.name
            )));
        }
    }
    let component = match options.component {
        Some(name) if is_name(&name) => name,
        Some(name) => return Err(format!("`--component {name}` is not a name rein accepts: {NAME_RULE}")),
        None => name_from(&options.model),
    };

    // The model's path as the file will read it: relative to the file's folder.
    let model = std::fs::canonicalize(&options.model)
        .map_err(|e| format!("cannot resolve `{}`: {e}", options.model.display()))?;
    let (folder, file) = match &options.out {
        Some(out) => {
            if out.exists() && !options.force {
                return Err(format!("`{}` exists; `--force` replaces it", out.display()));
            }
            let parent = out.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
            // a new system's folder is made for it, as `--out new/rein.toml` asks
            std::fs::create_dir_all(parent)
                .map_err(|e| format!("cannot write `{}`: cannot make its folder: {e}", out.display()))?;
            let folder = std::fs::canonicalize(parent)
                .map_err(|e| format!("cannot write `{}`: its folder: {e}", out.display()))?;
            (folder, out.clone())
        }
        None => {
            let here = std::env::current_dir().map_err(|e| format!("cannot read the current folder: {e}"))?;
            let here = std::fs::canonicalize(&here).unwrap_or(here);
            (here.clone(), here.join("rein.toml"))
        }
    };
    let model_path = relative(&model, &folder);
    let model_text = model_path.to_string_lossy().replace('\\', "/");
    let stem = model.file_name().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let text =
        system_file(&Drafted { draft: &draft, component: &component, task, labels, model: &model_text, stem: &stem });

    // What rein init writes, rein reads: a draft rein refuses is rein's mistake.
    if let Err(d) = rein_system::parse(&text, &file) {
        return Err(format!("rein init drafted a file rein does not accept (a bug in rein init):\n{d}\n\n{text}"));
    }
    match &options.out {
        Some(out) => {
            std::fs::write(out, &text).map_err(|e| format!("cannot write `{}`: {e}", out.display()))?;
            eprintln!(
                "wrote {}: {} feature(s), task {}; `rein check {}` validates it",
                out.display(),
                draft.features.len(),
                task.as_str(),
                out.display()
            );
        }
        None => print!("{text}"),
    }
    Ok(())
}

const NAME_RULE: &str = "1 to 64 letters, digits, `-` and `_`, starting with a letter";

fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        && s.len() <= 64
}

/// A component name from the model file's stem: `credit-v2.onnx` → `credit-v2`.
fn name_from(model: &Path) -> String {
    let stem = model.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let mut name: String =
        stem.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect();
    if !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
        name.insert_str(0, "model_");
    }
    name.truncate(64);
    name
}

/// `path` relative to the folder `base` (both absolute): `../models/m.onnx`.
fn relative(path: &Path, base: &Path) -> PathBuf {
    let path_parts: Vec<PathPart> = path.components().collect();
    let base_parts: Vec<PathPart> = base.components().collect();
    let common = path_parts.iter().zip(&base_parts).take_while(|(a, b)| a == b).count();
    // Nothing in common but the root: the absolute path says more than a climb to it.
    let roots = path_parts.iter().take_while(|p| matches!(p, PathPart::RootDir | PathPart::Prefix(_))).count();
    if common <= roots {
        return path.to_path_buf();
    }
    let mut out = PathBuf::new();
    for _ in common..base_parts.len() {
        out.push("..");
    }
    for part in &path_parts[common..] {
        out.push(part.as_os_str());
    }
    out
}

struct Drafted<'a> {
    draft: &'a Draft,
    component: &'a str,
    task: Task,
    labels: Vec<String>,
    /// The model's path as the file writes it.
    model: &'a str,
    /// The model file's name.
    stem: &'a str,
}

/// A TOML basic string.
fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A TOML array of strings on one line, or one a line when long.
fn string_list(key: &str, items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| quote(s)).collect();
    let one_line = format!("{key} = [{}]", quoted.join(", "));
    if one_line.chars().count() <= 96 {
        return one_line + "\n";
    }
    let mut out = format!("{key} = [\n");
    let mut line = String::new();
    for q in quoted {
        if !line.is_empty() && line.chars().count() + q.chars().count() + 2 > 92 {
            let _ = writeln!(out, "    {}", line.trim_end());
            line.clear();
        }
        line.push_str(&q);
        line.push_str(", ");
    }
    if !line.is_empty() {
        let _ = writeln!(out, "    {}", line.trim_end());
    }
    out.push_str("]\n");
    out
}

/// `text` as `# ` comment lines of at most 92 characters.
fn comment(text: &str) -> String {
    let mut out = String::new();
    let mut line = String::from("#");
    for word in text.split_whitespace() {
        if line.len() > 1 && line.chars().count() + 1 + word.chars().count() > 92 {
            out.push_str(&line);
            out.push('\n');
            line = String::from("#");
        }
        line.push(' ');
        line.push_str(word);
    }
    out.push_str(&line);
    out.push('\n');
    out
}

fn system_file(d: &Drafted<'_>) -> String {
    let mut s = String::new();
    let draft = d.draft;
    s += &comment(&format!(
        "A system file for {}, drafted by `rein init` from the model's graph: its inputs, the categories its \
         encoders know, its class labels. What the graph cannot say is left for you: bounds, guardrails, the \
         fallback's answer, the experience policy. `rein check` validates it and says which engine serves the \
         model; docs/system-file.md has every key.",
        d.stem
    ));
    s += "\n[system]\n";
    let _ = writeln!(s, "name = {}", quote(d.component));
    let _ = writeln!(s, "description = {}", quote(&format!("{}, served by rein", d.stem)));

    s += "\n[[components]]\n";
    let _ = writeln!(s, "name = {}", quote(d.component));
    let why = match (&draft.classes, &draft.regressor) {
        (Some((labels, op)), _) => {
            let count = match labels.len() {
                2 => "two class labels".to_string(),
                n => format!("{n} class labels"),
            };
            format!("The model's {op} declares {count}")
        }
        (None, Some(op)) => format!("The model's {op} makes it a regressor"),
        (None, None) => "The model names no classifier or regressor".to_string(),
    };
    let task_note = match (d.task, draft.classes.is_some()) {
        (Task::Binary, true) => format!("{why}: a binary classifier."),
        (Task::Multiclass, true) => format!("{why}: a multiclass classifier."),
        (Task::Regression, _) if draft.regressor.is_some() => format!("{why}."),
        (Task::Regression, _) => format!("{why}; its one float output a row makes it a regression."),
        (task, false) => format!("{why}: `--task {}` chose this.", task.as_str()),
    };
    s += &comment(&task_note);
    let _ = writeln!(s, "task = {}", quote(d.task.as_str()));
    if d.task != Task::Regression {
        if draft.classes.is_some() {
            s += &comment("In the order of the model's probability columns, as the model names them.");
        } else {
            s += &comment(
                "The model names no classes: these name its probability columns, in order. Rename them to what \
                 each class means.",
            );
        }
        s += &string_list("labels", &d.labels);
        if d.task == Task::Binary {
            s += &comment(
                "The label whose probability is the score that the experience policy and guardrails read (`output.score`).",
            );
            let _ = writeln!(s, "positive_label = {}", quote(&d.labels[1]));
        }
    }
    s += &comment(
        "The model file, relative to this file's folder. `timeout_ms` (default 100) is the longest a call may take \
         before the fallback answers.",
    );
    let _ = writeln!(s, "model = {{ path = {} }}", quote(d.model));

    s += "\n";
    match &draft.binding {
        Binding::ByName => {
            s += &comment(
                "One feature a model input, bound by name. Bounds are left for you: a request outside them is \
                 refused (422) before the model sees it.",
            );
        }
        Binding::ByPosition { input, element, width } => {
            s += &comment(&format!(
                "The model takes one {element} tensor, `{input}` [N, {width}], whose columns rein fills by \
                 position, in the order the features are declared here: f0 is column 0, f1 column 1, and so on. \
                 Rename them to what each column means, but keep this order, the training data's: two features \
                 declared in another order are not an error rein can see, the model just answers for other \
                 values. Bounds are left for you: a request outside them is refused (422)."
            ));
        }
    }
    for f in &draft.features {
        s += &feature(f);
    }

    s += "\n";
    s += &comment(
        "What to answer when the model fails, times out or is overloaded: choose the answer that is safe without \
         the model. `mode` says how forcefully it is shown.",
    );
    s += "[components.fallback]\n";
    match d.task {
        Task::Regression => {
            s += &comment("A placeholder: the value to answer without the model.");
            s += "output = 0.0\n";
        }
        _ => {
            let _ = writeln!(s, "output = {}", quote(&d.labels[0]));
        }
    }
    s += "mode = \"none\"\n";

    s += "\n";
    match d.task {
        Task::Regression => {
            s += &comment(
                "How forcefully a prediction reaches the user: always `annotate` for now. To choose the mode by the \
                 predicted value, use thresholds (docs/system-file.md, [components.experience]):",
            );
            s += "#   policy = \"thresholds\"\n#   thresholds = { automate = ..., prompt = ..., annotate = ... }\n";
        }
        _ => {
            let score = match d.task {
                Task::Binary => format!("the probability of `{}`", d.labels[1]),
                _ => "the top class's probability".to_string(),
            };
            s += &comment(&format!(
                "How forcefully a prediction reaches the user: always `annotate` for now. To have stated costs \
                 choose the mode by the score ({score}), use `expected_value`, as the phishing example's \
                 [components.experience] does: the value of acting in each mode when the prediction is right and \
                 when it is wrong; `rein check` prints the thresholds they amount to."
            ));
            s += "#   policy = \"expected_value\"\n";
            s += "#   values.automate = { right = 25, wrong = -200 }\n";
            s += "#   values.prompt = { right = 15, wrong = -15 }\n";
            s += "#   values.annotate = { right = 2, wrong = -4 }\n";
            s += "#   values.none = { right = -20, wrong = 0 }\n";
        }
    }
    s += "[components.experience]\npolicy = \"fixed\"\nmode = \"annotate\"\n";
    s
}

fn feature(f: &DraftFeature) -> String {
    let mut s = String::from("\n[[components.features]]\n");
    let _ = writeln!(s, "name = {}", quote(&f.name));
    let _ = writeln!(s, "type = {} # {}", quote(f.kind.type_name()), f.source);
    for note in &f.notes {
        let mut chars = note.trim_end_matches('.').chars();
        let first = chars.next().map(|c| c.to_uppercase().collect::<String>()).unwrap_or_default();
        s += &comment(&format!("{first}{}.", chars.as_str()));
    }
    match &f.kind {
        FeatureKind::Number { .. } | FeatureKind::Integer { .. } => s += "# min = ...\n# max = ...\n",
        FeatureKind::Category { categories } => s += &string_list("categories", categories),
        FeatureKind::Text { .. } => s += "# max_length = 10000\n",
        FeatureKind::Boolean => {}
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_relative_to_the_file_folder() {
        assert_eq!(relative(Path::new("/a/b/m.onnx"), Path::new("/a/b")), PathBuf::from("m.onnx"));
        assert_eq!(relative(Path::new("/a/b/m.onnx"), Path::new("/a/c/d")), PathBuf::from("../../b/m.onnx"));
        assert_eq!(relative(Path::new("/a/b/m.onnx"), Path::new("/a")), PathBuf::from("b/m.onnx"));
        assert_eq!(relative(Path::new("/a/b/m.onnx"), Path::new("/c/d")), PathBuf::from("/a/b/m.onnx"));
    }

    #[test]
    fn names_and_strings() {
        assert_eq!(name_from(Path::new("x/credit v2.onnx")), "credit_v2");
        assert_eq!(name_from(Path::new("2024.onnx")), "model_2024");
        assert!(is_name("f0") && !is_name("x.1") && !is_name("1x") && !is_name(""));
        assert_eq!(quote("a\"b\\c\u{7f}"), "\"a\\\"b\\\\c\\u007F\"");
        let long: Vec<String> = (0..40).map(|i| format!("category_{i}")).collect();
        let text = string_list("categories", &long);
        assert!(text.lines().all(|l| l.chars().count() <= 96), "{text}");
        let parsed: toml::Value = toml::from_str(&text).expect("TOML");
        assert_eq!(parsed["categories"].as_array().map(Vec::len), Some(40));
    }
}
