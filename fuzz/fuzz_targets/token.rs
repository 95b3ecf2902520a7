//! The token reader and the helpers on its bytes never panic, and never quote the file in an
//! error.
#![no_main]

use ssso::aws::token;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Err(e) = token::parse(data) {
        // An accessToken with an `@` (which no message of ssso's own contains) must not be
        // quoted back.
        let msg = format!("{e:#}");
        if let Ok(serde_json::Value::Object(o)) = serde_json::from_slice(data)
            && let Some(serde_json::Value::String(secret)) = o.get("accessToken")
            && secret.len() >= 8
            && secret.contains('@')
        {
            assert!(!msg.contains(secret.as_str()), "the error quotes the token");
        }
    }
    let _ = token::redacted(data);
    if let Ok(stripped) = token::access_token_only(data) {
        let _ = token::parse(&stripped);
    }
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = token::parse_timestamp(s);
        let _ = token::parse_duration(s);
    }
});
