//! A backend call's raw body (`POST /mgw`, RPC frames): parsed as a JSON object, checked against
//! the API's declared parameters, and turned into the backend path and query. Drives
//! `midship_gateway::fuzzing::backend_target`. The first byte picks the API.
//!
//! Invariant: each `{parameter}` fills exactly one segment of the path the backend sees, so a
//! body can never steer a call to another backend path (no `/` added, no empty, `.` or `..`
//! segment, which URL parsers resolve against the segments before them).

#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use midship_gateway::ApiDefinition;

static DEFINITIONS: LazyLock<Vec<ApiDefinition>> = LazyLock::new(midship_fuzz::api_definitions);

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    let definition = &DEFINITIONS[usize::from(pick) % DEFINITIONS.len()];
    let Ok(target) = midship_gateway::fuzzing::backend_target(definition, body) else {
        return;
    };
    let path = target.split_once('?').map_or(target.as_str(), |(path, _)| path);
    let segments: Vec<&str> = path.split('/').collect();
    let template: Vec<&str> = definition.path.split('/').collect();
    assert_eq!(segments.len(), template.len(), "{target:?} has other segments than {:?}", definition.path);
    for (segment, pattern) in segments.iter().zip(&template) {
        if pattern.starts_with('{') {
            let dots = segment.to_ascii_lowercase().replace("%2e", ".");
            assert!(
                !segment.is_empty() && dots != "." && dots != "..",
                "{target:?}: parameter {pattern} does not fill its segment"
            );
        } else {
            assert_eq!(segment, pattern, "{target:?}");
        }
    }
    assert!(!target.contains('#'), "{target:?}");
});
