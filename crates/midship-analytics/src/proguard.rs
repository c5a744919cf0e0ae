//! ProGuard and R8 mapping files, and retracing obfuscated JVM stack frames with them: a release
//! build's crashes arrive with renamed classes and methods and renumbered lines, and only read
//! (and group by the code that failed) once mapped back to the source.

use std::collections::HashMap;
use std::sync::LazyLock;

use regex::Regex;

use crate::event::Frame;

/// `original -> obfuscated:`
static CLASS_LINE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^(\S+)\s+->\s+(\S+):$").expect("valid pattern"));
/// `[startObf:endObf:]returnType [originalClass.]originalName(args)[:origStart[:origEnd]] -> obfuscatedName`
static METHOD_LINE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?:(\d+):(\d+):)?\S+\s+([^\s(]+)\([^)]*\)(?::(\d+)(?::(\d+))?)?\s+->\s+(\S+)$")
        .expect("valid pattern")
});
/// `type name -> obfuscatedName`
static FIELD_LINE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^\S+\s+\S+\s+->\s+\S+$").expect("valid pattern"));
/// R8's `# {"id":"sourceFile","fileName":"X.kt"}`, read without a JSON parser: file names hold no
/// quotes or backslashes, and a comment that does not match is only a lost file name.
static SOURCE_FILE_ID: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#""id"\s*:\s*"sourceFile""#).expect("valid pattern"));
static FILE_NAME: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#""fileName"\s*:\s*"([^"\\]+)""#).expect("valid pattern"));

#[derive(Debug, thiserror::Error)]
pub enum MappingError {
    #[error("line {line}: {message}")]
    Syntax { line: usize, message: String },
    #[error("the mapping file has no class mappings")]
    Empty,
}

fn syntax(line: usize, message: impl Into<String>) -> MappingError {
    MappingError::Syntax { line, message: message.into() }
}

/// One ProGuard or R8 mapping file, read for retracing.
#[derive(Debug, Clone)]
pub struct ProguardMapping {
    /// By obfuscated name.
    classes: HashMap<String, ClassMapping>,
    /// Source files by original class name, for the frames of methods inlined from other classes.
    source_files: HashMap<String, String>,
}

#[derive(Debug, Clone)]
struct ClassMapping {
    original: String,
    source_file: Option<String>,
    /// By obfuscated name; several for overloads and for the ranges of one method's inlined calls.
    methods: HashMap<String, Vec<MethodMapping>>,
}

/// One range of an obfuscated method's lines: one original method, or the chain of methods
/// inlined there, innermost first and the method that was compiled last.
#[derive(Debug, Clone)]
struct MethodMapping {
    obfuscated_lines: Option<LineRange>,
    members: Vec<OriginalMethod>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct LineRange {
    start: u32,
    end: u32,
}

impl LineRange {
    fn contains(self, line: u32) -> bool {
        (self.start..=self.end).contains(&line)
    }
}

#[derive(Debug, Clone)]
struct OriginalMethod {
    /// Set only for a method of another class, inlined into this one.
    class: Option<String>,
    name: String,
    /// `None` when the mapping left line numbers as they were (ProGuard without line remapping).
    original_start: Option<u32>,
    original_end: Option<u32>,
}

impl OriginalMethod {
    /// The source line for obfuscated `line` in `range`: shifted along when the original range is
    /// as long as the obfuscated one, else the whole range stands for its first original line
    /// (R8 folds calls inlined from one line into a range of new lines). Line 0 is R8's "no line"
    /// (synthesized methods), so it gives none.
    fn original_line(&self, range: LineRange, line: u32) -> Option<u32> {
        let original = match self.original_start {
            None => line,
            Some(start) if self.original_end.unwrap_or(start).checked_sub(start) == Some(range.end - range.start) => {
                start.saturating_add(line - range.start)
            }
            Some(start) => start,
        };
        Some(original).filter(|&line| line != 0)
    }
}

/// A method line, read.
struct MethodLine {
    obfuscated: String,
    obfuscated_lines: Option<LineRange>,
    method: OriginalMethod,
}

impl ProguardMapping {
    pub fn parse(text: &str) -> Result<Self, MappingError> {
        let mut classes: HashMap<String, ClassMapping> = HashMap::new();
        // Obfuscated name of the class that member lines belong to.
        let mut current: Option<String> = None;
        // The method line before, when it had a range: the next one with the same name and range
        // continues its inline chain.
        let mut previous: Option<(String, LineRange)> = None;
        for (index, line) in text.lines().enumerate() {
            let number = index + 1;
            let content = line.trim();
            if content.is_empty() {
                continue;
            }
            if let Some(comment) = content.strip_prefix('#') {
                if let Some(file) = source_file(comment)
                    && let Some(class) = current.as_ref().and_then(|name| classes.get_mut(name))
                {
                    class.source_file = Some(file);
                }
                continue;
            }
            if !line.starts_with(char::is_whitespace) {
                let (original, obfuscated) = parse_class_line(content, number)?;
                if classes.contains_key(&obfuscated) {
                    return Err(syntax(number, format!("class {obfuscated} is mapped twice")));
                }
                classes
                    .insert(obfuscated.clone(), ClassMapping { original, source_file: None, methods: HashMap::new() });
                current = Some(obfuscated);
                previous = None;
                continue;
            }
            let Some(class) = current.as_ref().and_then(|name| classes.get_mut(name)) else {
                return Err(syntax(number, "member line before any class line"));
            };
            let Some(mut parsed) = parse_member_line(content, number)? else {
                previous = None;
                continue;
            };
            if parsed.method.class.as_deref() == Some(class.original.as_str()) {
                parsed.method.class = None;
            }
            let ranges = class.methods.entry(parsed.obfuscated.clone()).or_default();
            let continues_chain = match (&previous, parsed.obfuscated_lines) {
                (Some((name, range)), Some(lines)) => *name == parsed.obfuscated && *range == lines,
                _ => false,
            };
            match ranges.last_mut() {
                Some(last) if continues_chain => last.members.push(parsed.method),
                _ => ranges
                    .push(MethodMapping { obfuscated_lines: parsed.obfuscated_lines, members: vec![parsed.method] }),
            }
            previous = parsed.obfuscated_lines.map(|lines| (parsed.obfuscated, lines));
        }
        if classes.is_empty() {
            return Err(MappingError::Empty);
        }
        let source_files =
            classes.values().filter_map(|class| Some((class.original.clone(), class.source_file.clone()?))).collect();
        Ok(Self { classes, source_files })
    }

    /// The original frames for one frame: several when the obfuscated line range maps to inlined
    /// methods (innermost first, as in a stack trace); the frame itself, unchanged, when its class
    /// is not in the mapping.
    ///
    /// A frame whose line picks no range gets the class and method all its candidates agree on,
    /// with no line (the obfuscated one would point at the wrong source line); when they disagree,
    /// only the class is restored. A method missing from the mapping was neither renamed nor
    /// renumbered, so it keeps its name and line.
    pub fn retrace(&self, frame: &Frame) -> Vec<Frame> {
        let Some((class_name, method_name)) = frame.function.rsplit_once('.') else {
            return vec![frame.clone()];
        };
        let Some(class) = self.classes.get(class_name) else {
            return vec![frame.clone()];
        };
        let ranges = class.methods.get(method_name).map(Vec::as_slice).unwrap_or_default();
        if let Some(line) = frame.line
            && let Some((mapping, lines)) = ranges
                .iter()
                .find_map(|mapping| Some((mapping, mapping.obfuscated_lines.filter(|lines| lines.contains(line))?)))
        {
            return mapping
                .members
                .iter()
                .map(|method| self.original_frame(frame, class, method, method.original_line(lines, line)))
                .collect();
        }
        let mut outer_methods = ranges.iter().filter_map(|mapping| mapping.members.last());
        let Some(first) = outer_methods.next() else {
            return vec![self.class_frame(frame, class, method_name, frame.line)];
        };
        if outer_methods.all(|method| method.class == first.class && method.name == first.name) {
            vec![self.original_frame(frame, class, first, None)]
        } else {
            vec![self.class_frame(frame, class, method_name, None)]
        }
    }

    pub fn classes(&self) -> usize {
        self.classes.len()
    }

    fn original_frame(&self, frame: &Frame, class: &ClassMapping, method: &OriginalMethod, line: Option<u32>) -> Frame {
        let (class_name, file) = match &method.class {
            None => (class.original.as_str(), class.source_file.clone().or_else(|| frame.file.clone())),
            Some(other) => {
                let file = self
                    .source_files
                    .get(other)
                    .cloned()
                    .unwrap_or_else(|| derived_source_file(other, class.source_file.as_deref()));
                (other.as_str(), Some(file))
            }
        };
        Frame { function: format!("{class_name}.{}", method.name), file, line, ..frame.clone() }
    }

    /// The frame with its class restored and the method name as it came.
    fn class_frame(&self, frame: &Frame, class: &ClassMapping, method_name: &str, line: Option<u32>) -> Frame {
        Frame {
            function: format!("{}.{method_name}", class.original),
            file: class.source_file.clone().or_else(|| frame.file.clone()),
            line,
            ..frame.clone()
        }
    }
}

fn source_file(comment: &str) -> Option<String> {
    if !SOURCE_FILE_ID.is_match(comment) {
        return None;
    }
    Some(FILE_NAME.captures(comment)?.get(1)?.as_str().to_owned())
}

fn parse_class_line(content: &str, number: usize) -> Result<(String, String), MappingError> {
    let captures = CLASS_LINE
        .captures(content)
        .ok_or_else(|| syntax(number, "expected a class line `original -> obfuscated:`"))?;
    Ok((captures[1].to_owned(), captures[2].to_owned()))
}

/// A method line, or `None` for a field line (fields do not appear in stack traces).
fn parse_member_line(content: &str, number: usize) -> Result<Option<MethodLine>, MappingError> {
    if !content.contains('(') {
        return if FIELD_LINE.is_match(content) {
            Ok(None)
        } else {
            Err(syntax(number, "expected a field line `type name -> obfuscated`"))
        };
    }
    let captures = METHOD_LINE.captures(content).ok_or_else(|| {
        syntax(number, "expected a method line `[start:end:]type [class.]name(args)[:start[:end]] -> obfuscated`")
    })?;
    let line_number = |group: usize| -> Result<Option<u32>, MappingError> {
        captures
            .get(group)
            .map(|digits| digits.as_str().parse::<u32>())
            .transpose()
            .map_err(|_| syntax(number, "line number out of range"))
    };
    let obfuscated_lines = match (line_number(1)?, line_number(2)?) {
        (Some(start), Some(end)) if end < start => {
            return Err(syntax(number, format!("obfuscated line range {start}:{end} ends before it starts")));
        }
        (Some(start), Some(end)) => Some(LineRange { start, end }),
        _ => None,
    };
    let (class, name) = match captures[3].rsplit_once('.') {
        Some((class, name)) => (Some(class.to_owned()), name.to_owned()),
        None => (None, captures[3].to_owned()),
    };
    Ok(Some(MethodLine {
        obfuscated: captures[6].to_owned(),
        obfuscated_lines,
        method: OriginalMethod { class, name, original_start: line_number(4)?, original_end: line_number(5)? },
    }))
}

/// The source file of a class the mapping has no file for: its top-level class's simple name, in
/// the language of the class it was inlined into (`Pricing.kt` when that one is Kotlin).
fn derived_source_file(class: &str, outer_file: Option<&str>) -> String {
    let simple = class.rsplit_once('.').map_or(class, |(_, simple)| simple);
    let top_level = simple.split_once('$').map_or(simple, |(top_level, _)| top_level);
    let extension = if outer_file.is_some_and(|file| file.ends_with(".kt")) { "kt" } else { "java" };
    format!("{top_level}.{extension}")
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAPPING: &str = r#"# compiler: R8
# compiler_version: 8.5.35
# min_api: 24
# common_typos_disable
# {"id":"com.android.tools.r8.mapping","version":"2.2"}
# pg_map_id: 5b2c7d1
# pg_map_hash: SHA-256 5b2c7d1e
com.example.app.MainActivity -> com.example.app.MainActivity:
# {"id":"sourceFile","fileName":"MainActivity.kt"}
    1:1:void <init>():10:10 -> <init>
    2:5:void onCreate(android.os.Bundle):20:23 -> onCreate
com.example.app.Cart -> a.a.b:
# {"id":"sourceFile","fileName":"Cart.kt"}
    java.util.List items -> a
    1:1:int total():42:42 -> a
    2:3:int com.example.app.Pricing.discount(int):7:8 -> a
    2:3:int total():43 -> a
    4:4:void clear():50:50 -> b
    void reset() -> c
"#;

    fn mapping() -> ProguardMapping {
        ProguardMapping::parse(MAPPING).expect("the sample mapping parses")
    }

    fn frame(function: &str, line: Option<u32>) -> Frame {
        Frame { function: function.into(), file: Some("SourceFile".into()), line, ..Frame::default() }
    }

    fn retraced(function: &str, file: &str, line: Option<u32>) -> Frame {
        Frame { function: function.into(), file: Some(file.into()), line, ..Frame::default() }
    }

    fn syntax_line(text: &str) -> usize {
        match ProguardMapping::parse(text) {
            Err(MappingError::Syntax { line, .. }) => line,
            other => panic!("expected a syntax error, got {other:?}"),
        }
    }

    #[test]
    fn counts_classes_and_skips_header_comments() {
        assert_eq!(mapping().classes(), 2);
    }

    #[test]
    fn maps_a_plain_method_line_by_line() {
        let mapping = mapping();
        assert_eq!(
            mapping.retrace(&frame("com.example.app.MainActivity.onCreate", Some(2))),
            vec![retraced("com.example.app.MainActivity.onCreate", "MainActivity.kt", Some(20))]
        );
        assert_eq!(
            mapping.retrace(&frame("com.example.app.MainActivity.onCreate", Some(5))),
            vec![retraced("com.example.app.MainActivity.onCreate", "MainActivity.kt", Some(23))]
        );
        assert_eq!(
            mapping.retrace(&frame("a.a.b.a", Some(1))),
            vec![retraced("com.example.app.Cart.total", "Cart.kt", Some(42))]
        );
    }

    #[test]
    fn expands_an_inline_chain_innermost_first() {
        let mapping = mapping();
        let expected = vec![
            retraced("com.example.app.Pricing.discount", "Pricing.kt", Some(7)),
            retraced("com.example.app.Cart.total", "Cart.kt", Some(43)),
        ];
        assert_eq!(mapping.retrace(&frame("a.a.b.a", Some(2))), expected);
        // Same span on both sides for the inlined callee; a single original line for the caller.
        assert_eq!(
            mapping.retrace(&frame("a.a.b.a", Some(3))),
            vec![
                retraced("com.example.app.Pricing.discount", "Pricing.kt", Some(8)),
                retraced("com.example.app.Cart.total", "Cart.kt", Some(43)),
            ]
        );
    }

    #[test]
    fn keeps_module_and_address() {
        let original =
            Frame { module: Some("base.apk".into()), address: Some("0x1f".into()), ..frame("a.a.b.a", Some(2)) };
        let frames = mapping().retrace(&original);
        assert_eq!(frames.len(), 2);
        for frame in frames {
            assert_eq!(frame.module.as_deref(), Some("base.apk"));
            assert_eq!(frame.address.as_deref(), Some("0x1f"));
        }
    }

    #[test]
    fn names_an_unambiguous_method_without_a_line() {
        let mapping = mapping();
        assert_eq!(
            mapping.retrace(&frame("a.a.b.b", None)),
            vec![retraced("com.example.app.Cart.clear", "Cart.kt", None)]
        );
        // Every range of `a` is compiled into `total`, whatever was inlined in it.
        assert_eq!(
            mapping.retrace(&frame("a.a.b.a", None)),
            vec![retraced("com.example.app.Cart.total", "Cart.kt", None)]
        );
    }

    #[test]
    fn names_a_method_without_ranges_and_drops_the_line() {
        assert_eq!(
            mapping().retrace(&frame("a.a.b.c", Some(12))),
            vec![retraced("com.example.app.Cart.reset", "Cart.kt", None)]
        );
    }

    #[test]
    fn falls_back_to_the_name_for_a_line_outside_every_range() {
        assert_eq!(
            mapping().retrace(&frame("a.a.b.b", Some(99))),
            vec![retraced("com.example.app.Cart.clear", "Cart.kt", None)]
        );
    }

    #[test]
    fn restores_only_the_class_for_an_ambiguous_method() {
        let mapping = ProguardMapping::parse(
            "com.example.Store -> a:\n    void open() -> a\n    void close(int) -> a\n    1:2:void flush():5:6 -> b\n",
        )
        .expect("parses");
        assert_eq!(mapping.retrace(&frame("a.a", Some(3))), vec![retraced("com.example.Store.a", "SourceFile", None)]);
        // Not in the mapping at all: neither renamed nor renumbered.
        assert_eq!(
            mapping.retrace(&frame("a.run", Some(3))),
            vec![retraced("com.example.Store.run", "SourceFile", Some(3))]
        );
    }

    #[test]
    fn leaves_unknown_classes_unchanged() {
        let mapping = mapping();
        let unknown =
            Frame { module: Some("base.apk".into()), ..frame("android.os.Handler.dispatchMessage", Some(106)) };
        assert_eq!(mapping.retrace(&unknown), vec![unknown.clone()]);
        let unqualified = frame("main", Some(1));
        assert_eq!(mapping.retrace(&unqualified), vec![unqualified.clone()]);
    }

    #[test]
    fn keeps_the_frame_file_without_source_file_metadata() {
        let mapping =
            ProguardMapping::parse("com.example.Store -> a:\n    1:4:void open():30:33 -> a\n").expect("parses");
        assert_eq!(
            mapping.retrace(&frame("a.a", Some(2))),
            vec![retraced("com.example.Store.open", "SourceFile", Some(31))]
        );
    }

    #[test]
    fn maps_to_the_first_original_line_when_the_spans_differ() {
        let mapping =
            ProguardMapping::parse("com.example.Store -> a:\n    1:4:void open():30:31 -> a\n").expect("parses");
        assert_eq!(
            mapping.retrace(&frame("a.a", Some(3))),
            vec![retraced("com.example.Store.open", "SourceFile", Some(30))]
        );
    }

    #[test]
    fn keeps_the_line_when_the_mapping_gives_no_original_range() {
        let mapping = ProguardMapping::parse("com.example.Store -> a:\n    7:9:void open() -> a\n").expect("parses");
        assert_eq!(
            mapping.retrace(&frame("a.a", Some(8))),
            vec![retraced("com.example.Store.open", "SourceFile", Some(8))]
        );
    }

    #[test]
    fn takes_an_inlined_class_file_from_its_own_mapping() {
        let mapping = ProguardMapping::parse(
            r#"com.example.Pricing -> b:
# {"id":"sourceFile","fileName":"Prices.kt"}
    1:1:int discount(int):7:7 -> a
com.example.Cart -> a:
# {"id":"sourceFile","fileName":"Cart.kt"}
    1:1:int com.example.Pricing.discount(int):7:7 -> a
    1:1:int total():43 -> a
"#,
        )
        .expect("parses");
        assert_eq!(
            mapping.retrace(&frame("a.a", Some(1))),
            vec![
                retraced("com.example.Pricing.discount", "Prices.kt", Some(7)),
                retraced("com.example.Cart.total", "Cart.kt", Some(43))
            ]
        );
    }

    #[test]
    fn derives_an_inlined_class_file_in_the_outer_language() {
        let mapping = ProguardMapping::parse(
            "com.example.Cart -> a:\n    1:1:int com.example.Pricing$Rules.discount(int):7:7 -> a\n    1:1:int total():43 -> a\n",
        )
        .expect("parses");
        assert_eq!(
            mapping.retrace(&frame("a.a", Some(1))),
            vec![
                retraced("com.example.Pricing$Rules.discount", "Pricing.java", Some(7)),
                retraced("com.example.Cart.total", "SourceFile", Some(43))
            ]
        );
    }

    #[test]
    fn does_not_chain_lines_across_a_field_or_a_name() {
        let mapping = ProguardMapping::parse(
            "com.example.Store -> a:\n    1:1:void open():5:5 -> a\n    int size -> b\n    1:1:void close():9:9 -> a\n    1:1:void flush():12:12 -> c\n",
        )
        .expect("parses");
        // Two separate ranges for `a` cover line 1: the first wins, alone.
        assert_eq!(
            mapping.retrace(&frame("a.a", Some(1))),
            vec![retraced("com.example.Store.open", "SourceFile", Some(5))]
        );
        assert_eq!(
            mapping.retrace(&frame("a.c", Some(1))),
            vec![retraced("com.example.Store.flush", "SourceFile", Some(12))]
        );
    }

    #[test]
    fn treats_synthetic_lambda_classes_like_others() {
        let mapping = ProguardMapping::parse(
            r#"com.example.app.MainActivity$$ExternalSyntheticLambda0 -> a.c:
# {"id":"sourceFile","fileName":"R8$$SyntheticClass"}
# {"id":"com.android.tools.r8.synthesized"}
    1:1:void com.example.app.MainActivity.onCreate$lambda$0(android.view.View):31:31 -> onClick
    1:1:void onClick(android.view.View):0:0 -> onClick
"#,
        )
        .expect("parses");
        assert_eq!(
            mapping.retrace(&frame("a.c.onClick", Some(1))),
            vec![
                retraced("com.example.app.MainActivity.onCreate$lambda$0", "MainActivity.java", Some(31)),
                retraced("com.example.app.MainActivity$$ExternalSyntheticLambda0.onClick", "R8$$SyntheticClass", None),
            ]
        );
    }

    #[test]
    fn reads_windows_line_endings() {
        let mapping = ProguardMapping::parse(&MAPPING.replace('\n', "\r\n")).expect("parses");
        assert_eq!(
            mapping.retrace(&frame("a.a.b.a", Some(1))),
            vec![retraced("com.example.app.Cart.total", "Cart.kt", Some(42))]
        );
    }

    #[test]
    fn reports_malformed_lines_by_number() {
        assert_eq!(syntax_line("# compiler: R8\ncom.example.Store -> a:\n    1:1:void open():5:5 => a\n"), 3);
        assert_eq!(syntax_line("com.example.Store -> a\n"), 1);
        assert_eq!(syntax_line("\n    void open() -> a\n"), 2);
        assert_eq!(syntax_line("com.example.Store -> a:\n    int -> b\n"), 2);
        assert_eq!(syntax_line("com.example.Store -> a:\n    3:1:void open():5:7 -> a\n"), 2);
        assert_eq!(syntax_line("com.example.Store -> a:\n    1:99999999999:void open() -> a\n"), 2);
        assert_eq!(syntax_line("com.example.Store -> a:\ncom.example.Other -> a:\n"), 2);
        let error = ProguardMapping::parse("a -> b:\n    ?? -> a()\n").expect_err("malformed");
        assert!(error.to_string().starts_with("line 2: expected a method line"), "{error}");
    }

    #[test]
    fn refuses_a_mapping_without_classes() {
        assert!(matches!(ProguardMapping::parse(""), Err(MappingError::Empty)));
        assert!(matches!(ProguardMapping::parse("# compiler: R8\n\n# min_api: 24\n"), Err(MappingError::Empty)));
    }
}
