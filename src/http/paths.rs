//! Ids in paths are UTF-8: a percent-encoded segment that does not decode to UTF-8 (`%FF`) is
//! refused with 400 naming the id, before routing, rather than decoded lossily into "�" (which
//! would let many different paths address one user).

use actix_web::dev::ServiceRequest;

use crate::http::ApiError;

/// Refuses a path with a segment that is not UTF-8 once percent-decoded, naming the id there.
/// Called by the request-id middleware before routing (one layer less than a middleware of
/// its own, on every request).
pub(crate) fn check(req: &ServiceRequest) -> Result<(), ApiError> {
    if let Some(position) = req.path().split('/').position(|segment| !decodes_to_utf8(segment)) {
        // The route's pattern names the id at that position, when the path fits a route.
        let field = req
            .match_pattern()
            .and_then(|pattern| pattern.split('/').nth(position).map(str::to_string))
            .and_then(|segment| Some(segment.strip_prefix('{')?.strip_suffix('}')?.to_string()))
            .unwrap_or_else(|| "path".to_string());
        return Err(ApiError::invalid(field, "must be UTF-8 once percent-decoded"));
    }
    Ok(())
}

/// Whether the percent-decoded bytes of `segment` are UTF-8 (a malformed escape is kept as
/// written, as the router does).
fn decodes_to_utf8(segment: &str) -> bool {
    !segment.contains('%') || std::str::from_utf8(&percent_decode(segment).0).is_ok()
}

/// `text` percent-decoded: its bytes, each `%XX` escape as the byte it names and a malformed
/// one kept as written, and whether every `%` began a well-formed escape.
pub(crate) fn percent_decode(text: &str) -> (Vec<u8>, bool) {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut well_formed = true;
    let mut i = 0;
    while i < bytes.len() {
        let escape = (bytes[i] == b'%')
            .then(|| bytes.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok());
        match escape {
            Some(byte) => {
                decoded.push(byte);
                i += 3;
            }
            None => {
                well_formed &= bytes[i] != b'%';
                decoded.push(bytes[i]);
                i += 1;
            }
        }
    }
    (decoded, well_formed)
}

#[cfg(test)]
mod tests {
    use super::decodes_to_utf8;

    #[test]
    fn only_utf8_once_decoded_passes() {
        assert!(decodes_to_utf8("alice"));
        assert!(decodes_to_utf8("%C3%A9t%C3%A9"));
        assert!(decodes_to_utf8("%EF%BF%BD"));
        assert!(decodes_to_utf8("100%"));
        assert!(!decodes_to_utf8("%FF"));
        assert!(!decodes_to_utf8("a%FEb"));
        assert!(!decodes_to_utf8("%C3"));
    }
}
