//! The form reader over bodies cut at every byte: fields, lines and files come out the same however
//! a body is cut, and a part named twice, named ambiguously, or priced after the hold is refused
//! naming it.

use super::*;

fn body() -> Vec<u8> {
    b"--b0\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\nbatch\r\n--b0\r\n\
      Content-Disposition: form-data; name=\"file\"; filename=\"a.jsonl\"\r\nContent-Type: application/jsonl\r\n\r\n\
      {\"a\":1}\n{\"b\":2}\r\n\n{\"c\":3}\r\n--b0--\r\n"
        .to_vec()
}

/// What a body read gives: its fields, its file's lines, and whether it ended.
type Read = (Vec<(String, String)>, Vec<(u64, String)>, bool);

/// The fields and each file's lines a body read in chunks of `size` bytes gives.
fn read(body: &[u8], size: usize) -> Read {
    let mut form = Form::new(b"b0");
    let mut lines = Lines::new(64);
    let (mut fields, mut seen) = (Vec::new(), Vec::new());
    for chunk in body.chunks(size) {
        form.feed(chunk, &mut |part| match part {
            Part::Field(n, v) => fields.push((n, v)),
            Part::File(_, bytes) => lines.feed(bytes, &mut |n, l| seen.push((n, String::from_utf8_lossy(l).into()))),
            Part::FileEnd(_) => lines.finish(&mut |n, l| seen.push((n, String::from_utf8_lossy(l).into()))),
        })
        .unwrap();
    }
    (fields, seen, form.done())
}

#[test]
fn fields_and_lines_come_out_the_same_however_the_body_is_cut() {
    let whole = read(&body(), usize::MAX);
    assert_eq!(whole.0, vec![("purpose".to_string(), "batch".to_string())]);
    assert_eq!(
        whole.1,
        vec![
            (1, "{\"a\":1}".to_string()),
            (2, "{\"b\":2}".to_string()),
            (3, String::new()),
            (4, "{\"c\":3}".to_string())
        ]
    );
    assert!(whole.2);
    for size in 1..40 {
        assert_eq!(read(&body(), size), whole, "chunks of {size}");
    }
}

#[test]
fn a_line_past_its_bound_is_named_and_nothing_after_it_is_handed_on() {
    let mut lines = Lines::new(4);
    let mut seen = Vec::new();
    lines.feed(b"abc\nabcdef", &mut |n, l| seen.push((n, l.to_vec())));
    lines.feed(b"gh\nok\n", &mut |n, l| seen.push((n, l.to_vec())));
    assert_eq!(seen, vec![(1, b"abc".to_vec())]);
    assert_eq!(lines.too_long, Some(2));
}

#[test]
fn a_form_keeps_at_most_a_delimiter_of_a_file_it_passes() {
    let mut form = Form::new(b"b0");
    let head = b"--b0\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x\"\r\n\r\n";
    let mut passed = 0;
    form.feed(head, &mut |_| {}).unwrap();
    for _ in 0..100 {
        form.feed(&[b'x'; 10_000], &mut |part| {
            if let Part::File(_, b) = part {
                passed += b.len()
            }
        })
        .unwrap();
        assert!(form.carry.len() < 10, "kept {}", form.carry.len());
    }
    assert!(passed > 999_000);
    let bad = Form::new(b"b0").feed(b"--b0\r\nX-Nothing: 1\r\n\r\n", &mut |_| {});
    assert!(bad.is_err());
}

/// A form of `parts` (name, filename, value) with the boundary `b0`.
fn form(parts: &[(&str, Option<&str>, &[u8])]) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, filename, value) in parts {
        body.extend(b"--b0\r\n");
        let file = filename.map(|f| format!("; filename=\"{f}\"")).unwrap_or_default();
        body.extend(format!("Content-Disposition: form-data; name=\"{name}\"{file}\r\n\r\n").as_bytes());
        body.extend(*value);
        body.extend(b"\r\n");
    }
    body.extend(b"--b0--\r\n");
    body
}

fn fed(form: &mut Form, body: &[u8]) -> Result<(), MultipartError> {
    form.feed(body, &mut |_| {})
}

#[test]
fn a_part_named_twice_is_refused_naming_it_however_the_body_is_cut() {
    let twice = [
        form(&[("model", None, b"sora-2"), ("model", None, b"sora-2-pro")]),
        form(&[
            ("file", Some("a.wav"), b"RIFF"),
            ("model", None, b"m"),
            ("file", Some("b.wav"), b"RIFF"),
        ]),
        form(&[
            ("purpose", None, b"batch"),
            ("file", Some("a.jsonl"), b"{}"),
            ("purpose", None, b"batch"),
        ]),
    ];
    for (body, name) in twice.iter().zip(["model", "file", "purpose"]) {
        for size in [1, 7, body.len()] {
            let mut reader = Form::new(b"b0");
            let err = body.chunks(size).try_for_each(|c| fed(&mut reader, c)).unwrap_err();
            assert_eq!(err.field, name, "chunks of {size}");
            assert!(err.detail.contains("twice"), "{err:?}");
        }
    }
    // An array's name repeats by design (`timestamp_granularities[]`, `include[]`).
    let array = form(&[
        ("include[]", None, b"logprobs"),
        ("include[]", None, b"x"),
        ("model", None, b"m"),
    ]);
    let mut reader = Form::new(b"b0");
    fed(&mut reader, &array).unwrap();
    assert!(reader.done());
}

#[test]
fn a_sealed_form_refuses_what_its_hold_was_priced_from_and_nothing_else() {
    let body = form(&[
        ("file", Some("a.wav"), b"RIFF...."),
        ("language", None, b"en"),
        ("model", None, b"whisper-1"),
    ]);
    let at_file = find(&body, b"RIFF", 0).unwrap() + 2;
    let mut reader = Form::new(b"b0");
    fed(&mut reader, &body[..at_file]).unwrap();
    reader.seal(&["model", "stream"]);
    let err = fed(&mut reader, &body[at_file..]).unwrap_err();
    assert_eq!(err.field, "model");
    let mut unsealed = Form::new(b"b0");
    fed(&mut unsealed, &body).unwrap();
    assert!(unsealed.done() && unsealed.has("language"));
}

/// A form whose one part has `headers` and the value `v`.
fn headed(headers: &str) -> Vec<u8> {
    format!("--b0\r\n{headers}\r\n\r\nv\r\n--b0--\r\n").into_bytes()
}

#[test]
fn a_part_whose_headers_name_it_two_ways_is_refused_naming_it_however_the_body_is_cut() {
    let cases = [
        (
            "Content-Disposition: form-data; name=\"model\"; name=\"sora-2-pro\"",
            "model",
            "more than once in its Content-Disposition (model, sora-2-pro)",
        ),
        (
            "Content-Disposition: form-data; name=\"note\"; name*=utf-8''seconds",
            "note",
            "more than once",
        ),
        (
            "Content-Disposition: form-data; name=\"note\"\r\ncontent-disposition: form-data; name=\"seconds\"",
            "note",
            "more than one Content-Disposition header",
        ),
        (
            "Content-Disposition: attachment\r\nContent-Disposition: form-data; name=\"seconds\"",
            "body",
            "more than one Content-Disposition header",
        ),
        (
            "Content-Disposition: form-data; name*=utf-8''seconds",
            "body",
            "without a form-data Content-Disposition naming it",
        ),
    ];
    for (headers, field, detail) in cases {
        let body = headed(headers);
        for size in [1, 5, body.len()] {
            let mut reader = Form::new(b"b0");
            let err = body.chunks(size).try_for_each(|c| fed(&mut reader, c)).unwrap_err();
            assert_eq!(err.field, field, "{headers}, chunks of {size}");
            assert!(err.detail.contains(detail), "{headers}: {err:?}");
        }
    }
    // One header naming the part once, with a filename, is a file of that name.
    let one = "Content-Disposition: form-data; name=\"file\"; filename=\"a.wav\"\r\nContent-Type: audio/wav";
    assert_eq!(part(one), Ok(("file".to_string(), true)));
}

#[test]
fn a_priced_field_begun_before_the_seal_and_ended_after_it_is_refused() {
    let body = form(&[
        ("model", None, b"whisper-1"),
        ("file", Some("a.wav"), b"RIFF...."),
        ("prompt", None, b"a long prompt"),
    ]);
    let in_prompt = find(&body, b"long", 0).unwrap();
    let mut reader = Form::new(b"b0");
    let mut fields = Vec::new();
    reader
        .feed(&body[..in_prompt], &mut |part| {
            if let Part::Field(name, _) = part {
                fields.push(name)
            }
        })
        .unwrap();
    assert_eq!(fields, ["model"]);
    reader.seal(&["model", "stream", "prompt"]);
    let err = fed(&mut reader, &body[in_prompt..]).unwrap_err();
    assert_eq!(err.field, "prompt");
    assert!(err.detail.contains("before the file"), "{err:?}");
    // A field that does not price the call may end after the seal.
    let mut reader = Form::new(b"b0");
    fed(&mut reader, &body[..in_prompt]).unwrap();
    reader.seal(&["model", "stream"]);
    fed(&mut reader, &body[in_prompt..]).unwrap();
    assert!(reader.done());
}
