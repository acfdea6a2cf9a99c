//! A multipart form read whole before its hold, for a call priced from all of it (a video's
//! submission, an image edit's images): its text fields, how many file parts each name has,
//! and its fingerprint, in one pass of the one form reader (`../multipart.rs`), so the form is
//! read once and forwarded as it came.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::fingerprint::Fingerprint;
use crate::http::ApiError;
use crate::proxy::multipart::{Form, Part};

/// A form, as read whole.
pub(crate) struct WholeForm {
    /// Its text fields by name.
    pub fields: Map<String, Value>,
    /// Its file parts, counted by name (an array's `[]` left on).
    pub files: BTreeMap<String, u64>,
    /// What an Idempotency-Key's repeat must match (`fingerprint.rs`).
    pub fingerprint: Vec<u8>,
}

/// Reads the form `bytes` (delimited by `boundary`) whole; Err names the part at fault.
pub(crate) fn read(boundary: &[u8], bytes: &[u8]) -> Result<WholeForm, ApiError> {
    let mut fields = Map::new();
    let mut files = BTreeMap::new();
    let mut print = Fingerprint::default();
    let mut form = Form::new(boundary);
    form.feed(bytes, &mut |part| {
        print.part(&part);
        match part {
            Part::Field(name, value) => {
                fields.insert(name, Value::String(value));
            }
            Part::FileEnd(name) => *files.entry(name.to_string()).or_default() += 1,
            Part::File(..) => {}
        }
    })
    .map_err(|e| ApiError::invalid(e.field, e.detail))?;
    if !form.done() {
        return Err(ApiError::invalid("body", "ended before its closing boundary"));
    }
    Ok(WholeForm {
        fields,
        files,
        fingerprint: print.finish(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_and_files_are_read_once_and_an_arrays_parts_counted() {
        let part = |name: &str, file: Option<&str>, body: &str| match file {
            Some(file) => format!(
                "--b\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{file}\"\r\n\
                 Content-Type: image/png\r\n\r\n{body}\r\n"
            ),
            None => format!("--b\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{body}\r\n"),
        };
        let body = [
            part("prompt", None, "a hat"),
            part("image[]", Some("a.png"), "AAAA"),
            part("image[]", Some("b.png"), "BBBB"),
            part("mask", Some("m.png"), "MMMM"),
            "--b--\r\n".to_string(),
        ]
        .concat();
        let form = read(b"b", body.as_bytes()).unwrap();
        assert_eq!(form.fields["prompt"], "a hat");
        assert_eq!(form.files["image[]"], 2);
        assert_eq!(form.files["mask"], 1);
        // Each of an array's files is in the fingerprint: another second image is another form.
        let other = body.replace("BBBB", "CCCC");
        assert_ne!(read(b"b", other.as_bytes()).unwrap().fingerprint, form.fingerprint);
        // A field given twice is refused, as the provider would read the last.
        let twice = [part("prompt", None, "a"), part("prompt", None, "b"), "--b--\r\n".into()].concat();
        assert_eq!(
            read(b"b", twice.as_bytes())
                .err()
                .map(|e| e.to_string().contains("prompt")),
            Some(true)
        );
    }
}
