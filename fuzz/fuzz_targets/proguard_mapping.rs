//! ProGuard/R8 mapping files, uploaded per app version through the admin API. Drives
//! `midship_analytics::proguard::ProguardMapping::parse` on the UTF-8 text (as the upload does),
//! then `retrace` on frames named after the classes and methods the text maps, at lines taken
//! from the text and at the edges of the line range.
//!
//! Invariant: a retrace always answers at least one frame, and a line 0 (R8's "no line") only
//! when the frame came with it.

#![no_main]

use libfuzzer_sys::fuzz_target;
use midship_analytics::event::Frame;
use midship_analytics::proguard::ProguardMapping;

/// Names and lines worth retracing: the obfuscated class and method names of the text.
fn candidates(text: &str) -> (Vec<&str>, Vec<&str>, Vec<u32>) {
    let (mut classes, mut methods, mut lines) = (Vec::new(), Vec::new(), vec![0, 1, 2, 7, 1000, u32::MAX]);
    for line in text.lines() {
        let Some((left, right)) = line.rsplit_once("->") else {
            continue;
        };
        let right = right.trim();
        if line.starts_with(char::is_whitespace) {
            methods.push(right);
            lines.extend(left.split(':').filter_map(|part| part.trim().parse::<u32>().ok()));
        } else {
            classes.push(right.trim_end_matches(':'));
        }
    }
    classes.truncate(8);
    methods.truncate(8);
    lines.truncate(16);
    (classes, methods, lines)
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(mapping) = ProguardMapping::parse(text) else {
        return;
    };
    assert!(mapping.classes() > 0);
    let (classes, methods, lines) = candidates(text);
    for class in &classes {
        for method in methods.iter().chain([&"unmapped"]) {
            for line in lines.iter().copied().map(Some).chain([None]) {
                let frame = Frame { function: format!("{class}.{method}"), line, ..Frame::default() };
                let retraced = mapping.retrace(&frame);
                assert!(!retraced.is_empty(), "{frame:?}");
                if line != Some(0) {
                    assert!(retraced.iter().all(|frame| frame.line != Some(0)), "{frame:?} -> {retraced:?}");
                }
            }
        }
    }
});
