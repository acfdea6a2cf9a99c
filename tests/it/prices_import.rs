//! `catalog import` of a price list whose numbers are past what a price can be: the process
//! neither panics nor spends memory by an exponent's size, and leaves out only those models.

use serde_json::Value;

/// A model of the list with `price` (its text, as the list writes it) per input token.
fn model(name: &str, price: &str) -> String {
    format!(
        r#""{name}": {{"max_tokens": 1000, "input_cost_per_token": {price}, "output_cost_per_token": 1e-6,
            "litellm_provider": "openai", "mode": "chat"}}"#
    )
}

/// Exponents near i64::MAX and of a hundred million, under an address-space limit of 300 MB
/// (the binary itself takes about half): the import exits 0, the good model in the file, each
/// other left out on stderr naming itself and its field.
#[test]
fn catalog_import_leaves_out_prices_past_any_bound_without_panicking_or_allocating_by_exponent() {
    let list = format!(
        "{{{}}}",
        [
            model("near-max", "1e9223372036854775807"),
            model("far", "1e100000000"),
            model("far-below", "1e-100000000"),
            model("past-float", "1e400"),
            model("house/good", "2.5e-7"),
        ]
        .join(",")
    );
    // Exit 0, as `import_within` checks.
    let (output, report) = crate::prices::import_within(&list, Some(300_000));
    assert!(report.contains("imported 1 models; left out 4"), "{report}");
    for name in ["near-max", "far", "far-below", "past-float"] {
        assert!(
            report.contains(&format!("left out {name}: input_cost_per_token ")),
            "{name}: {report}"
        );
    }
    let imported: Value = serde_json::from_str(&std::fs::read_to_string(&output).unwrap()).unwrap();
    assert_eq!(imported["models"][0]["model"], "house/good");
    assert_eq!(imported["models"][0]["inputPerMillion"], serde_json::json!(0.25));
}
