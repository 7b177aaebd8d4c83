//! `[[route]]`: the routing table (placeholder until the routing rules land).

use serde::Deserialize;

use super::{ConfigError, DispatcherSet, ErrFn};

/// One routing rule.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteRule {
    pub name: String,
}

/// Check the rules and their references to dispatcher sets.
pub fn validate(
    rules: &[RouteRule],
    sets: &[DispatcherSet],
    err: &ErrFn<'_>,
) -> Result<(), ConfigError> {
    let _ = (rules, sets, err);
    Ok(())
}
