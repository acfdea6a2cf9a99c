//! A JSON text written byte by byte, for the texts written on every request (the data plane's
//! answers, the reservation record): serde_json escapes every field name character by
//! character, where these names are constants written as they are. Only strings that come
//! from plans or callers are escaped, as serde_json escapes them.

use chrono::{DateTime, Datelike, Timelike, Utc};

use crate::quota::Milli;

/// A JSON text being written. The caller opens and closes objects and arrays; a comma goes in
/// wherever the byte before is not an opening or a name's colon.
pub struct Json(Vec<u8>);

impl Default for Json {
    fn default() -> Json {
        Json::new()
    }
}

impl Json {
    pub fn new() -> Json {
        Json::with_capacity(1024)
    }

    /// Room for `bytes` before the text grows (a copy of all of it each time it does).
    pub fn with_capacity(bytes: usize) -> Json {
        Json(Vec::with_capacity(bytes))
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.0
    }

    #[inline(always)]
    fn comma(&mut self) {
        if !matches!(self.0.last(), None | Some(b'{' | b'[' | b':')) {
            self.0.push(b',');
        }
    }

    /// `"name":`; names are constants of letters and digits, which need no escaping.
    /// Inlined, so each name's length is a constant and its copy no call to `memcpy`.
    #[inline(always)]
    pub fn name(&mut self, name: &'static str) -> &mut Json {
        debug_assert!(name.bytes().all(|b| b.is_ascii_alphanumeric()));
        self.comma();
        self.0.push(b'"');
        self.0.extend_from_slice(name.as_bytes());
        self.0.extend_from_slice(b"\":");
        self
    }

    pub fn open_object(&mut self) {
        self.comma();
        self.0.push(b'{');
    }

    pub fn close_object(&mut self) {
        self.0.push(b'}');
    }

    pub fn open_array(&mut self) {
        self.comma();
        self.0.push(b'[');
    }

    pub fn close_array(&mut self) {
        self.0.push(b']');
    }

    pub fn null(&mut self) {
        self.comma();
        self.0.extend_from_slice(b"null");
    }

    pub fn boolean(&mut self, value: bool) {
        self.comma();
        self.0.extend_from_slice(if value { b"true" } else { b"false" });
    }

    /// Escaped as serde_json escapes it; most strings (ids, units, instants) need nothing.
    pub fn string(&mut self, value: &str) {
        self.comma();
        let plain = value.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\');
        if plain {
            self.0.push(b'"');
            self.0.extend_from_slice(value.as_bytes());
            self.0.push(b'"');
        } else {
            serde_json::to_writer(&mut self.0, value).expect("writing into a Vec cannot fail");
        }
    }

    /// Whole units as an integer, else the exact decimal text (as `Milli`'s `Serialize`).
    pub fn milli(&mut self, value: Milli) {
        self.comma();
        if value.0.is_multiple_of(1000) {
            self.0
                .extend_from_slice(itoa::Buffer::new().format(value.0 / 1000).as_bytes());
        } else {
            self.0.extend_from_slice(value.to_string().as_bytes());
        }
    }

    /// An integer.
    pub fn integer(&mut self, value: impl itoa::Integer) {
        self.comma();
        self.0.extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
    }

    /// `"key":` for a key that comes from a plan or a caller, escaped as `string` escapes it.
    pub fn key(&mut self, key: &str) -> &mut Json {
        self.string(key);
        self.0.push(b':');
        self
    }

    /// An integer as a JSON string, as the reservation records keep numbers.
    pub fn integer_text(&mut self, value: impl itoa::Integer) {
        self.comma();
        self.0.push(b'"');
        self.0.extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
        self.0.push(b'"');
    }

    /// `integer_text` as a blank a script fills in: its digits between two bytes 0x01 (which
    /// no JSON text holds unescaped), to be kept or replaced by what the script decided.
    pub fn blank_integer_text(&mut self, value: impl itoa::Integer) {
        self.comma();
        self.0.extend_from_slice(b"\"\x01");
        self.0.extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
        self.0.extend_from_slice(b"\x01\"");
    }

    /// An instant in RFC 3339 UTC with milliseconds, as `rfc3339` spells it.
    pub fn instant(&mut self, ms: i64) {
        self.comma();
        self.0.push(b'"');
        write_instant(&mut self.0, ms);
        self.0.push(b'"');
    }

    pub fn optional<T>(&mut self, value: Option<T>, write: impl FnOnce(&mut Json, T)) {
        match value {
            Some(v) => write(self, v),
            None => self.null(),
        }
    }
}

/// An instant on the wire: `2026-11-22T03:09:43.123Z`.
pub(crate) fn rfc3339(ms: i64) -> String {
    let mut text = Vec::with_capacity(24);
    write_instant(&mut text, ms);
    String::from_utf8(text).expect("an instant is written in ASCII")
}

/// A UTC day number (days since 1970-01-01) as `YYYY-MM-DD`.
pub(crate) fn date(day: i64) -> String {
    DateTime::from_timestamp(day * 86_400, 0)
        .map(|t| t.format("%Y-%m-%d").to_string())
        .unwrap_or_default()
}

/// `2026-11-22T03:09:43.123Z`, two digits at a time: chrono's formatter goes through `fmt`
/// for each field. Years outside 0..=9999 (never a counter's) take chrono's own spelling.
pub(crate) fn write_instant(out: &mut Vec<u8>, ms: i64) {
    let t = DateTime::<Utc>::from_timestamp_millis(ms).unwrap_or_default();
    let Ok(year @ 0..=9999) = u32::try_from(t.year()) else {
        out.extend_from_slice(t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true).as_bytes());
        return;
    };
    let pair = |n: u32| [b'0' + (n / 10 % 10) as u8, b'0' + (n % 10) as u8];
    let millis = t.timestamp_subsec_millis();
    let [y1, y2] = pair(year / 100);
    let [y3, y4] = pair(year);
    let [mo1, mo2] = pair(t.month());
    let [d1, d2] = pair(t.day());
    let [h1, h2] = pair(t.hour());
    let [mi1, mi2] = pair(t.minute());
    let [s1, s2] = pair(t.second());
    let [ms2, ms3] = pair(millis);
    let ms1 = b'0' + (millis / 100 % 10) as u8;
    out.extend_from_slice(&[
        y1, y2, y3, y4, b'-', mo1, mo2, b'-', d1, d2, b'T', h1, h2, b':', mi1, mi2, b':', s1, s2, b'.', ms1, ms2, ms3,
        b'Z',
    ]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_are_spelled_as_chrono_spells_them() {
        let day = 86_400_000i64;
        let mut instants = vec![0, 1, 999, 1_000, -1, -day - 1, 951_782_400_000, 1_767_225_599_999];
        // Every day of four years around a leap year, at a different time of day each.
        instants.extend((0..1_461).map(|n| 946_684_800_000 + n * day + n * 7_777_777 % day));
        // The edges of the years written digit by digit, and beyond them chrono's own spelling.
        instants.extend([
            -62_167_219_200_000,
            253_402_300_799_999,
            253_402_300_800_000,
            -62_167_219_200_001,
        ]);
        for ms in instants {
            let mut out = Vec::new();
            write_instant(&mut out, ms);
            let chrono = DateTime::<Utc>::from_timestamp_millis(ms)
                .unwrap()
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
            assert_eq!(String::from_utf8(out).unwrap(), chrono, "{ms}");
        }
    }

    #[test]
    fn strings_are_escaped_as_serde_json_escapes_them() {
        for s in [
            "",
            "plain-id_1.2",
            "quote \" only",
            "back \\ slash",
            "tab\t",
            "quote \" back \\ slash",
            "\n\r\t\u{0}\u{1f}",
            "caf\u{e9} \u{7f} \u{2028} \u{1f600}",
        ] {
            let mut json = Json::new();
            json.string(s);
            assert_eq!(json.into_bytes(), serde_json::to_vec(s).unwrap(), "{s:?}");
        }
    }

    #[test]
    fn commas_go_between_members_and_items_only() {
        let mut json = Json::new();
        json.open_object();
        json.name("a").open_array();
        json.boolean(true);
        json.null();
        json.open_object();
        json.close_object();
        json.close_array();
        json.name("b").milli(Milli(1_250));
        json.name("c").integer_text(-5i64);
        json.name("d").optional(Some(0), Json::instant);
        json.close_object();
        assert_eq!(
            String::from_utf8(json.into_bytes()).unwrap(),
            r#"{"a":[true,null,{}],"b":1.25,"c":"-5","d":"1970-01-01T00:00:00.000Z"}"#
        );
    }
}
