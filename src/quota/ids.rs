//! The shapes of names the API accepts (DESIGN sections 2 and 4), checked before anything reaches Redis.

/// Plan, group and project ids: `[A-Za-z0-9_.-]{1,64}`.
pub fn check_id(id: &str) -> Result<(), &'static str> {
    check_charset(id, 64, |b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
        .map_err(|_| "must match [A-Za-z0-9_.-]{1,64}")
}

/// Event names: `[A-Za-z0-9_.:-]{1,128}`.
pub fn check_event(event: &str) -> Result<(), &'static str> {
    check_charset(event, 128, |b| b.is_ascii_alphanumeric() || b"_.:-".contains(&b))
        .map_err(|_| "must match [A-Za-z0-9_.:-]{1,128}")
}

/// User ids: any UTF-8 of 1 to 256 bytes without control characters.
pub fn check_user_id(user: &str) -> Result<(), &'static str> {
    if user.is_empty() || user.len() > 256 {
        return Err("must be 1 to 256 bytes");
    }
    if user.chars().any(char::is_control) {
        return Err("must not contain control characters");
    }
    Ok(())
}

fn check_charset(s: &str, max: usize, allowed: impl Fn(u8) -> bool) -> Result<(), ()> {
    if s.is_empty() || s.len() > max || !s.bytes().all(allowed) {
        return Err(());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_follow_the_documented_shapes() {
        assert!(check_id("plan_free-1.a").is_ok());
        assert!(check_id("").is_err());
        assert!(check_id("a:b").is_err());
        assert!(check_id(&"a".repeat(65)).is_err());
        assert!(check_event("image.model_a:v2").is_ok());
        assert!(check_event("image model").is_err());
        assert!(check_user_id("user {1}@x:y é").is_ok());
        assert!(check_user_id("a\nb").is_err());
        assert!(check_user_id(&"é".repeat(129)).is_err());
    }
}
