//! The plan examples the book and the README show (```json blocks, not run) are valid plans,
//! so a reader can paste them as they are. The runnable blocks are run by `scripts/book test`.

use quota_gateway::surface::quota::Plan;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

/// The book's chapters and the README.
fn pages() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut pages = vec![root.join("README.md")];
    let mut dirs = vec![root.join("docs/book/src")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "md") {
                pages.push(path);
            }
        }
    }
    pages
}

/// The text of every block whose info string is exactly `json`.
fn shown_json(page: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut lines = page.lines();
    while let Some(line) = lines.next() {
        if line.trim() == "```json" {
            let body: Vec<&str> = lines.by_ref().take_while(|l| l.trim() != "```").collect();
            blocks.push(body.join("\n"));
        }
    }
    blocks
}

#[test]
fn every_plan_example_the_book_shows_is_valid() {
    let mut checked = 0;
    for page in pages() {
        let text = std::fs::read_to_string(&page).unwrap();
        for block in shown_json(&text) {
            let where_ = page.display();
            let value = match serde_json::from_str::<Value>(&block) {
                Ok(value) => value,
                // An answer shown in part, with "…" in it, is no plan; a plan must parse.
                Err(e) if block.contains("\"groups\"") => panic!("{where_}: {e} in {block}"),
                Err(_) => continue,
            };
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
            let id = plan["id"].as_str().unwrap_or("plan_book").to_string();
            let doc = serde_json::from_value(plan.clone()).unwrap_or_else(|e| panic!("{where_}: {e} in {plan}"));
            Plan::from_doc(&id, doc).unwrap_or_else(|p| panic!("{where_}: {p:?} in {plan}"));
            checked += 1;
        }
    }
    // Most plans are stored by a runnable block, which the book's test runs; a few are shown.
    assert!(checked >= 1, "only {checked} examples found");
}
