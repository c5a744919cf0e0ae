//! The upload policy: which kinds a device uploads, on which networks, sampled per user.

use midship_api::{AnalyticsPolicy, KindPolicy};
use midship_protocol::calls::{DeviceKindPolicy, DevicePolicy};
use sha2::{Digest, Sha256};

use crate::event::LOG_LEVELS;
use crate::{AnalyticsError, invalid};

/// Every event kind the upload accepts.
pub use midship_protocol::calls::EVENT_KINDS as KINDS;
/// `*` in a policy stands for every kind not named.
pub use midship_protocol::calls::EVERY_OTHER_KIND;

pub fn check(policy: &AnalyticsPolicy) -> Result<(), AnalyticsError> {
    for (kind, settings) in &policy.kinds {
        if kind != EVERY_OTHER_KIND && !KINDS.contains(&kind.as_str()) {
            return Err(invalid("kinds", format!("unknown kind {kind}; known: {}", KINDS.join(", "))));
        }
        if settings.sample_per_thousand > 1000 {
            return Err(invalid(format!("kinds.{kind}.sample_per_thousand"), "must be 0 to 1000"));
        }
        if let Some(level) = &settings.min_level
            && !LOG_LEVELS.contains(&level.as_str())
        {
            return Err(invalid(
                format!("kinds.{kind}.min_level"),
                format!("must be one of {}", LOG_LEVELS.join(", ")),
            ));
        }
    }
    if !(1..=1000).contains(&policy.batch_size) {
        return Err(invalid("batch_size", "must be 1 to 1000"));
    }
    if !(1..=86_400).contains(&policy.flush_interval_seconds) {
        return Err(invalid("flush_interval_seconds", "must be 1 to 86400"));
    }
    Ok(())
}

/// Where `subject` (the user, or the device without one) falls in 0..1000 for `kind`: stable, so a
/// user sampled in stays in, and independent between kinds.
fn sample_slot(workspace_id: &str, kind: &str, subject: &str) -> u16 {
    let digest = Sha256::new()
        .chain_update(workspace_id)
        .chain_update([0])
        .chain_update(kind)
        .chain_update([0])
        .chain_update(subject)
        .finalize();
    u16::from_be_bytes([digest[0], digest[1]]) % 1000
}

/// The policy decided for one device.
pub fn for_device(policy: &AnalyticsPolicy, workspace_id: &str, subject: &str) -> DevicePolicy {
    let default = policy.kinds.get(EVERY_OTHER_KIND).cloned().unwrap_or_default();
    let kinds = KINDS
        .iter()
        .filter_map(|&kind| {
            let settings: &KindPolicy = policy.kinds.get(kind).unwrap_or(&default);
            let sampled_in = sample_slot(workspace_id, kind, subject) < settings.sample_per_thousand;
            (settings.enabled && sampled_in).then(|| {
                (
                    kind.to_owned(),
                    DeviceKindPolicy { wifi_only: settings.wifi_only, min_level: settings.min_level.clone() },
                )
            })
        })
        .collect();
    DevicePolicy { batch_size: policy.batch_size, flush_interval_seconds: policy.flush_interval_seconds, kinds }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sampling_is_stable_per_user_and_near_the_ratio() {
        let mut policy = AnalyticsPolicy::default();
        policy.kinds.insert("page".into(), KindPolicy { sample_per_thousand: 250, ..KindPolicy::default() });
        policy.kinds.insert("lag".into(), KindPolicy { enabled: false, ..KindPolicy::default() });
        policy.kinds.insert("*".into(), KindPolicy { wifi_only: true, ..KindPolicy::default() });
        let uploading = (0..4000)
            .filter(|user| for_device(&policy, "W", &format!("user-{user}")).kinds.contains_key("page"))
            .count();
        assert!((900..1100).contains(&uploading), "{uploading} of 4000 at 250‰");
        let decided = for_device(&policy, "W", "user-1");
        assert_eq!(decided, for_device(&policy, "W", "user-1"));
        assert!(!decided.kinds.contains_key("lag"));
        assert!(decided.kinds["crash"].wifi_only);
    }

    #[test]
    fn bad_policies_name_the_field() {
        let mut policy = AnalyticsPolicy::default();
        policy.kinds.insert("telepathy".into(), KindPolicy::default());
        assert!(check(&policy).unwrap_err().to_string().contains("unknown kind telepathy"));
        let policy = AnalyticsPolicy { batch_size: 0, ..AnalyticsPolicy::default() };
        assert!(check(&policy).unwrap_err().to_string().contains("batch_size"));
        let mut policy = AnalyticsPolicy::default();
        policy.kinds.insert("log".into(), KindPolicy { min_level: Some("loud".into()), ..KindPolicy::default() });
        assert!(check(&policy).unwrap_err().to_string().contains("min_level"));
        assert!(check(&AnalyticsPolicy::default()).is_ok());
    }
}
