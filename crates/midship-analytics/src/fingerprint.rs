//! Crash grouping: a failure's fingerprint is a hash of its kind, exception type and normalised
//! stack — functions and modules, never line numbers — so the same bug seen at other load
//! addresses, in another build of the app or the framework (lines moved by an edit above them) or
//! with renumbered lambdas lands in one group, as Sentry and Crashlytics group.

use std::sync::LazyLock;

use regex::Regex;
use sha2::{Digest, Sha256};

use crate::event::{Failure, FailureKind, Frame};

/// Frames past this many do not change the group.
const FRAMES_IN_FINGERPRINT: usize = 32;

/// Function prefixes (JVM) and module names (native, iOS) of frameworks: a group's title names
/// the first frame outside them, the app's own code.
const FRAMEWORK_FUNCTIONS: &[&str] = &[
    "android.",
    "androidx.",
    "com.android.",
    "dalvik.",
    "java.",
    "javax.",
    "jdk.",
    "kotlin.",
    "kotlinx.",
    "libcore.",
    "sun.",
    "com.google.android.",
    "okhttp3.",
    "retrofit2.",
];
const FRAMEWORK_MODULES: &[&str] = &[
    "libc.so",
    "libart.so",
    "libbase.so",
    "libutils.so",
    "libandroid_runtime.so",
    "UIKit",
    "UIKitCore",
    "Foundation",
    "CoreFoundation",
    "GraphicsServices",
    "libsystem_",
    "libdispatch",
    "libobjc",
    "dyld",
];

/// Generated parts of names, each with what it is replaced by.
static GENERATED: LazyLock<Vec<(Regex, &'static str)>> = LazyLock::new(|| {
    [
        (r"0x[0-9a-fA-F]+", ""),
        (r"\$\$Lambda\$[^.\s(]*", "$$$$Lambda"),
        (r"\$r8\$lambda\$[A-Za-z0-9_-]+", "$$r8$$lambda"),
        (r"ExternalSynthetic([A-Za-z]+?)\d+", "ExternalSynthetic$1"),
        (r"lambda\$([A-Za-z0-9_]+)\$\d+", "lambda$$$1"),
        (r"closure #\d+", "closure"),
        (r"\$\d+", "$$"),
    ]
    .into_iter()
    .map(|(pattern, replacement)| (Regex::new(pattern).expect("valid pattern"), replacement))
    .collect()
});

pub fn is_framework(frame: &Frame) -> bool {
    FRAMEWORK_FUNCTIONS.iter().any(|prefix| frame.function.starts_with(prefix))
        || frame
            .module
            .as_deref()
            .is_some_and(|module| FRAMEWORK_MODULES.iter().any(|framework| module.starts_with(framework)))
}

fn strip_generated(text: &str) -> String {
    GENERATED
        .iter()
        .fold(text.to_owned(), |text, (pattern, replacement)| pattern.replace_all(&text, *replacement).into_owned())
}

/// A frame as the fingerprint sees it: module and function without generated names or addresses,
/// and the file. The line is left out for app and framework frames alike: an edit above a function
/// moves its lines, and one bug must not split into a group per build. (The stored samples keep
/// their lines.)
pub fn normalise_frame(frame: &Frame) -> String {
    let module = frame.module.as_deref().map(strip_generated).unwrap_or_default();
    let function = strip_generated(&frame.function);
    let file = frame.file.as_deref().unwrap_or_default();
    format!("{module}!{function}@{file}")
}

/// The group a failure belongs to: 32 hex digits.
pub fn fingerprint(kind: FailureKind, failure: &Failure) -> String {
    let mut hasher = Sha256::new();
    hasher.update(kind.as_str());
    hasher.update(b"\n");
    hasher.update(&failure.exception.exception_type);
    for frame in failure.frames.iter().take(FRAMES_IN_FINGERPRINT) {
        hasher.update(b"\n");
        hasher.update(normalise_frame(frame));
    }
    hex::encode(&hasher.finalize()[..16])
}

/// A short name for a group: the exception type and the first frame of the app's own code.
pub fn title(failure: &Failure) -> String {
    let culprit = failure.frames.iter().find(|frame| !is_framework(frame)).map(|frame| frame.function.as_str());
    match (failure.exception.exception_type.as_str(), culprit) {
        ("", Some(function)) => function.to_owned(),
        (exception_type, Some(function)) => format!("{exception_type} in {function}"),
        (exception_type, None) => exception_type.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Exception;

    fn frame(function: &str, line: u32, address: &str) -> Frame {
        Frame {
            function: function.into(),
            module: None,
            file: Some("F.kt".into()),
            line: Some(line),
            address: Some(address.into()),
        }
    }

    fn crash(message: &str, frames: Vec<Frame>) -> Failure {
        Failure {
            exception: Exception { exception_type: "java.lang.IllegalStateException".into(), message: message.into() },
            frames,
            ..Failure::default()
        }
    }

    #[test]
    fn addresses_framework_lines_messages_and_generated_names_do_not_split_a_group() {
        let first = crash(
            "cart 17 is empty",
            vec![
                frame("com.demo.cart.Cart.total", 42, "0x7f3a10"),
                frame("com.demo.cart.Cart$$ExternalSyntheticLambda3.run", 2, "0x7f3a20"),
                frame("com.demo.cart.CartActivity.lambda$onCreate$0", 88, "0x1"),
                frame("com.demo.cart.CartActivity$1.onClick", 12, "0x2"),
                frame("android.view.View.performClick", 7448, "0x7f00"),
                frame("java.lang.reflect.Method.invoke", 1, "0x9"),
            ],
        );
        let second = crash(
            "cart 99 is empty",
            vec![
                frame("com.demo.cart.Cart.total", 42, "0x5500aa"),
                frame("com.demo.cart.Cart$$ExternalSyntheticLambda7.run", 2, "0x5500ab"),
                frame("com.demo.cart.CartActivity.lambda$onCreate$4", 88, "0x3"),
                frame("com.demo.cart.CartActivity$2.onClick", 12, "0x4"),
                frame("android.view.View.performClick", 7506, "0x6600"),
                frame("java.lang.reflect.Method.invoke", 3, "0xa"),
            ],
        );
        assert_eq!(fingerprint(FailureKind::Crash, &first), fingerprint(FailureKind::Crash, &second));
        assert_eq!(title(&first), "java.lang.IllegalStateException in com.demo.cart.Cart.total");
    }

    #[test]
    fn one_exception_thrown_at_other_lines_of_the_same_function_is_one_group() {
        // One NullPointerException in Cart.total, its lines moved by edits above it from build to
        // build, called from a screen whose own lines moved too.
        let thrown_at = |line: u32, caller_line: u32| {
            let mut failure = crash(
                "",
                vec![
                    frame("com.demo.cart.Cart.total", line, "0x1"),
                    frame("com.demo.cart.CartActivity.onResume", caller_line, "0x2"),
                    frame("android.app.Activity.performResume", 8_000 + line, "0x3"),
                ],
            );
            failure.exception.exception_type = "java.lang.NullPointerException".into();
            failure
        };
        let print = fingerprint(FailureKind::Crash, &thrown_at(42, 77));
        for (line, caller_line) in [(43, 77), (58, 80), (120, 12)] {
            assert_eq!(fingerprint(FailureKind::Crash, &thrown_at(line, caller_line)), print, "line {line}");
        }
    }

    #[test]
    fn functions_exception_types_and_kinds_split_groups() {
        let base = crash("", vec![frame("com.demo.cart.Cart.total", 42, "0x1")]);
        let other_function = crash("", vec![frame("com.demo.cart.Cart.clear", 42, "0x1")]);
        let other_caller =
            crash("", vec![frame("com.demo.cart.Cart.total", 42, "0x1"), frame("com.demo.Checkout.pay", 9, "0x2")]);
        let mut other_type = base.clone();
        other_type.exception.exception_type = "java.lang.NullPointerException".into();
        let print = fingerprint(FailureKind::Crash, &base);
        assert_ne!(print, fingerprint(FailureKind::Crash, &other_function));
        assert_ne!(print, fingerprint(FailureKind::Crash, &other_caller));
        assert_ne!(print, fingerprint(FailureKind::Crash, &other_type));
        assert_ne!(print, fingerprint(FailureKind::Anr, &base));
        assert_eq!(print.len(), 32);
    }

    #[test]
    fn native_frames_lose_addresses_and_system_lines() {
        let native = |address: &str, line: u32| Frame {
            function: format!("{address} closure #2 in Checkout.pay()"),
            module: Some("UIKitCore".into()),
            file: None,
            line: Some(line),
            address: Some(address.into()),
        };
        assert_eq!(normalise_frame(&native("0x1000", 10)), normalise_frame(&native("0x2fff", 99)));
        assert_eq!(normalise_frame(&native("0x1000", 10)), "UIKitCore! closure in Checkout.pay()@");
    }
}
