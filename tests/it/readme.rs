//! The README's plan examples are valid plans, so a reader can paste them as they are.

use quota_gateway::quota::Plan;
use serde_json::{json, Value};

#[test]
fn every_plan_example_in_the_readme_is_valid() {
    let readme = include_str!("../../README.md");
    let mut checked = 0;
    for block in readme.split("```json").skip(1) {
        let text = block.split("```").next().unwrap();
        let value: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("{e} in {text}"));
        // A ledger entry (it has a kind) is shown too; it is no plan.
        if value.get("kind").is_some() {
            continue;
        }
        let plan = if value.get("groups").is_some() {
            value
        } else if value.get("unit").is_some() || value.get("balance").is_some() {
            json!({ "periodType": "month", "groups": [value] })
        } else {
            continue;
        };
        let id = plan["id"].as_str().unwrap_or("plan_readme").to_string();
        let doc = serde_json::from_value(plan.clone()).unwrap_or_else(|e| panic!("{e} in {plan}"));
        Plan::from_doc(&id, doc).unwrap_or_else(|p| panic!("{p:?} in {plan}"));
        checked += 1;
    }
    assert!(checked >= 8, "only {checked} examples found");
}
