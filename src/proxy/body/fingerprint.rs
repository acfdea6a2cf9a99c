//! What an Idempotency-Key's repeat of a form must match: its text fields by name and a
//! SHA-256 of each file part's bytes by its name, as JSON, never its multipart boundary, which
//! a client draws anew on each try (the official clients do). Read part by part as the form
//! passes, so a file of any size costs a digest's state: the one fingerprint of a form read
//! whole (`form.rs`: a video's, an image edit's) and of a file's upload (`jobs/upload.rs`).
//! A name an array's parts share (`image[]`) keeps each part's digest, in order.

use std::collections::BTreeMap;

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::proxy::multipart::Part;

/// A form's fingerprint as its parts pass.
#[derive(Default)]
pub(crate) struct Fingerprint {
    fields: BTreeMap<String, Value>,
    /// The file parts begun and not yet ended.
    hashing: BTreeMap<String, Sha256>,
    /// Each ended file part's digest, in hex.
    files: BTreeMap<String, String>,
}

impl Fingerprint {
    /// Reads one part of the form, as the form hands it on.
    pub(crate) fn part(&mut self, part: &Part<'_>) {
        match part {
            Part::Field(name, value) => {
                self.fields.insert(name.clone(), Value::String(value.clone()));
            }
            Part::File(name, chunk) => self.hashing.entry(name.to_string()).or_default().update(chunk),
            Part::FileEnd(name) => {
                let hasher = self.hashing.remove(*name).unwrap_or_default();
                let digest = hex::encode(hasher.finalize());
                match self.files.get_mut(*name) {
                    Some(digests) => {
                        digests.push(',');
                        digests.push_str(&digest);
                    }
                    None => {
                        self.files.insert(name.to_string(), digest);
                    }
                }
            }
        }
    }

    /// The fingerprint of the parts read: `{"fields": {...}, "files": {name: sha256}}`.
    pub(crate) fn finish(&self) -> Vec<u8> {
        serde_json::json!({"fields": self.fields, "files": self.files})
            .to_string()
            .into_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proxy::multipart::Form;

    fn body(boundary: &str, file: &str) -> Vec<u8> {
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\nbatch\r\n\
             --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.jsonl\"\r\n\
             Content-Type: application/jsonl\r\n\r\n{file}\r\n--{boundary}--\r\n"
        )
        .into_bytes()
    }

    fn print(boundary: &str, body: &[u8], chunk: usize) -> Vec<u8> {
        let mut form = Form::new(boundary.as_bytes());
        let mut print = Fingerprint::default();
        for piece in body.chunks(chunk) {
            form.feed(piece, &mut |part| print.part(&part)).unwrap();
        }
        assert!(form.done());
        print.finish()
    }

    #[test]
    fn a_form_has_one_fingerprint_however_it_is_cut_and_whatever_its_boundary() {
        let one = print("aaaa", &body("aaaa", "{\"a\": 1}\n{\"b\": 2}"), 1 << 10);
        for (boundary, chunk) in [("aaaa", 1), ("aaaa", 7), ("bbbbbbbbbbbb", 3)] {
            let file = body(boundary, "{\"a\": 1}\n{\"b\": 2}");
            assert_eq!(print(boundary, &file, chunk), one, "{boundary} in {chunk}s");
        }
        assert_ne!(print("aaaa", &body("aaaa", "{\"a\": 1}\n{\"b\": 3}"), 5), one);
    }
}
