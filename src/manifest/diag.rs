//! Manifest problems: every mistake found while loading is collected here with the
//! field it concerns and where it stands, then rendered all at once as miette
//! diagnostics (for people) or as JSON (for machines).

use std::fmt;

use miette::{Diagnostic, GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource, Severity};

use super::yaml::Loc;

/// How bad a problem is: errors stop the run, warnings are shown and the plan goes on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Error,
    Warning,
}

/// One thing wrong (or doubtful) in a manifest.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Problem {
    pub level: Level,
    /// The field, as a path: `shots[2].model`, `defaults.resolution`, `version`.
    pub field: String,
    pub message: String,
    pub help: Option<String>,
    /// The label under the offending text.
    #[serde(skip)]
    pub label: String,
    pub line: u32,
    pub column: u32,
    #[serde(skip)]
    pub loc: Loc,
}

impl Problem {
    pub fn error(loc: Loc, field: impl Into<String>, message: impl Into<String>) -> Self {
        Problem {
            level: Level::Error,
            field: field.into(),
            message: message.into(),
            help: None,
            label: String::from("here"),
            line: loc.line,
            column: loc.column,
            loc,
        }
    }

    pub fn warning(loc: Loc, field: impl Into<String>, message: impl Into<String>) -> Self {
        Problem { level: Level::Warning, ..Problem::error(loc, field, message) }
    }

    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = label.into();
        self
    }
}

/// Collects problems while a manifest is read.
#[derive(Default, Debug)]
pub struct Problems {
    pub list: Vec<Problem>,
}

impl Problems {
    pub fn push(&mut self, p: Problem) {
        self.list.push(p);
    }

    pub fn has_errors(&self) -> bool {
        self.list.iter().any(|p| p.level == Level::Error)
    }

    pub fn errors(&self) -> usize {
        self.list.iter().filter(|p| p.level == Level::Error).count()
    }

    pub fn warnings(&self) -> usize {
        self.list.len() - self.errors()
    }
}

/// A problem paired with the manifest text, so that miette can draw the snippet.
struct Rendered<'a> {
    problem: &'a Problem,
    source: &'a NamedSource<String>,
}

impl fmt::Debug for Rendered<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.problem, f)
    }
}

impl fmt::Display for Rendered<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.problem.field, self.problem.message)
    }
}

impl std::error::Error for Rendered<'_> {}

impl Diagnostic for Rendered<'_> {
    fn severity(&self) -> Option<Severity> {
        Some(match self.problem.level {
            Level::Error => Severity::Error,
            Level::Warning => Severity::Warning,
        })
    }

    fn help<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        self.problem.help.as_ref().map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        (self.problem.loc.line > 0).then_some(self.source as &dyn miette::SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        if self.problem.loc.line == 0 {
            return None;
        }
        let loc = self.problem.loc;
        let label = LabeledSpan::new(Some(self.problem.label.clone()), loc.offset, loc.len.max(1));
        Some(Box::new(std::iter::once(label)))
    }
}

/// Renders problems for a terminal or a log: each with the file, line and column,
/// the offending line and a hint; colour only when `color` is set.
pub fn render(problems: &[Problem], file_name: &str, source: &str, color: bool) -> String {
    let named = NamedSource::new(file_name, source.to_owned());
    let theme = if color { GraphicalTheme::unicode() } else { GraphicalTheme::unicode_nocolor() };
    let handler = GraphicalReportHandler::new_themed(theme).with_width(100).with_links(false);
    let mut out = String::new();
    for problem in problems {
        let rendered = Rendered { problem, source: &named };
        // A problem with no position (a file that could not be read) still names the file.
        if problem.loc.line == 0 {
            out.push_str(&format!("[{file_name}]\n"));
        }
        if handler.render_report(&mut out, &rendered).is_err() {
            out.push_str(&format!("{file_name}: {rendered}\n"));
        }
        out.push('\n');
    }
    out
}
