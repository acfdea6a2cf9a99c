//! Every form the proxy prices is read one way, to its last corner: a part whose headers name it
//! two ways is refused where the provider would read the other name. Against the provider
//! simulator, which reads a form as Python's parsers do.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::proxy_bounds::{form, gateway, plan, post_form, used};
use crate::support::provider::{Provider, PROVIDER_KEY};

/// A refusal's message, after asserting its status and the part it names.
fn refused(status: StatusCode, body: &Value, param: &str) -> String {
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["param"], param, "{body}");
    body["error"]["message"].as_str().unwrap_or_default().to_string()
}

/// A video form of a prompt and one part whose headers are `headers`, its value 12.
fn named_two_ways(headers: &str) -> Vec<u8> {
    let mut body = form(&[("prompt", None, b"a cat")]);
    body.truncate(body.len() - b"--b0--\r\n".len());
    body.extend(format!("--b0\r\n{headers}\r\n\r\n12\r\n--b0--\r\n").as_bytes());
    body
}

#[tokio::test]
async fn a_part_named_two_ways_in_its_headers_is_refused_where_the_provider_reads_the_other_name() {
    let provider = Provider::start();
    let app = gateway(
        &provider,
        plan(1_000, json!({ "metadata": "video_seconds" }), &["openai.videos"]),
    )
    .await;
    let forms = [
        "Content-Disposition: form-data; name=\"note\"; name=\"seconds\"",
        "Content-Disposition: form-data; name=\"note\"\r\nContent-Disposition: form-data; name=\"seconds\"",
    ];
    // The provider reads the last name: a 12 s video, where a reader of the first would have
    // held the default 4 s.
    let sim = reqwest::Client::new();
    for headers in forms {
        let res = sim
            .post(format!("{}/v1/videos", provider.url()))
            .bearer_auth(PROVIDER_KEY)
            .header("Content-Type", "multipart/form-data; boundary=b0")
            .body(named_two_ways(headers))
            .send()
            .await
            .unwrap();
        let made: Value = res.json().await.unwrap();
        assert_eq!(made["seconds"], "12", "{made}");
    }
    let before = provider.stats().await["paths"]["/v1/videos"].clone();
    for (headers, why) in forms
        .iter()
        .zip(["more than once", "more than one Content-Disposition"])
    {
        let (status, body) = post_form(&app, "v1/videos", named_two_ways(headers)).await;
        let message = refused(status, &body, "note");
        assert!(message.contains(why), "{body}");
    }
    assert_eq!(provider.stats().await["paths"]["/v1/videos"], before);
    assert_eq!(used(&app.usage("alice").await), 0);
}
