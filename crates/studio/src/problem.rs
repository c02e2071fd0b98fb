//! [`Problem`]: an error as the page shows it, with the file, line and column it points at.

use std::path::{Path, PathBuf};

use serde::Serialize;

/// An error to show: its whole message and, where the message names one, the place in a file
/// (TOML's `at line L, column C` in the job, or `FILE:L:C:` as custom-shader errors give it)
/// with that line's text.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Problem {
    pub message: String,
    pub file: Option<PathBuf>,
    pub line: Option<u32>,
    pub column: Option<u32>,
    pub source_line: Option<String>,
}

impl Problem {
    /// A problem with no place in a file.
    pub fn plain(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            file: None,
            line: None,
            column: None,
            source_line: None,
        }
    }

    /// Runs `f`, answering a panic in it (a GPU validation error, say) with a problem: the
    /// studio's thread that called it goes on.
    pub(crate) fn unless_panic<T>(
        what: &str,
        f: impl FnOnce() -> Result<T, Problem>,
    ) -> Result<T, Problem> {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
            .unwrap_or_else(|_| Err(Self::plain(format!("{what} failed on an internal error"))))
    }

    /// Finds the place `message` names: `FILE:LINE:COLUMN:` (that file), else `line L, column C`
    /// (in `job`, the job file); the line's text is read from the file.
    pub fn locate(message: impl Into<String>, job: &Path) -> Self {
        let message = message.into();
        let place = file_place(&message)
            .or_else(|| toml_place(&message).map(|(line, column)| (job.to_owned(), line, column)));
        let Some((file, line, column)) = place else {
            return Self::plain(message);
        };
        let source_line = std::fs::read_to_string(&file).ok().and_then(|text| {
            text.lines()
                .nth(line.saturating_sub(1) as usize)
                .map(str::to_owned)
        });
        Self {
            message,
            file: Some(file),
            line: Some(line),
            column: Some(column),
            source_line,
        }
    }
}

/// `at line 5, column 3` (the toml crate's words), wherever `line ` appears first in other words
/// (a path like `/home/me/timeline demo/job.toml`).
fn toml_place(message: &str) -> Option<(u32, u32)> {
    message.match_indices("line ").find_map(|(at, _)| {
        let rest = &message[at + 5..];
        let line: String = rest.chars().take_while(char::is_ascii_digit).collect();
        let rest = rest[line.len()..].strip_prefix(", column ")?;
        let column: String = rest.chars().take_while(char::is_ascii_digit).collect();
        Some((line.parse().ok()?, column.parse().ok()?))
    })
}

/// The first `PATH:LINE:COLUMN:` token whose path has an extension.
fn file_place(message: &str) -> Option<(PathBuf, u32, u32)> {
    message.split_whitespace().find_map(|token| {
        let token = token.strip_suffix(':')?;
        let mut parts = token.rsplitn(3, ':');
        let column = parts.next()?.parse().ok()?;
        let line = parts.next()?.parse().ok()?;
        let path = PathBuf::from(parts.next()?);
        path.extension()?;
        Some((path, line, column))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_errors_point_into_the_job() {
        let dir = std::env::temp_dir().join(format!("studio-problem-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("scratch folder");
        let job = dir.join("job.toml");
        std::fs::write(&job, "audio = \"a.wav\"\nversion = = 1\n").expect("write");
        let p = Problem::locate(
            format!(
                "{}: TOML parse error at line 2, column 11\n  |\n2 | version = = 1\n",
                job.display()
            ),
            &job,
        );
        assert_eq!((p.line, p.column), (Some(2), Some(11)));
        assert_eq!(p.source_line.as_deref(), Some("version = = 1"));
        assert_eq!(p.file.as_deref(), Some(job.as_path()));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn shader_errors_point_into_the_shader() {
        let dir = std::env::temp_dir().join(format!("studio-shader-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("scratch folder");
        let shader = dir.join("glow.wgsl");
        std::fs::write(&shader, "fn a() {}\nfn shade( {\n").expect("write");
        let message = format!(
            "job.toml: layer 2 (custom): {}:2:10: expected identifier",
            shader.display()
        );
        let p = Problem::locate(message, &dir.join("job.toml"));
        assert_eq!(p.file.as_deref(), Some(shader.as_path()));
        assert_eq!((p.line, p.column), (Some(2), Some(10)));
        assert_eq!(p.source_line.as_deref(), Some("fn shade( {"));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_path_with_line_in_it_does_not_hide_the_place() {
        assert_eq!(
            toml_place(
                "/home/me/pipeline demo/job.toml: TOML parse error at line 4, column 7\n  |"
            ),
            Some((4, 7))
        );
    }

    #[test]
    fn a_message_without_a_place_has_none() {
        let p = Problem::locate("the audio file is missing", Path::new("job.toml"));
        assert_eq!((p.file, p.line, p.column), (None, None, None));
    }
}
