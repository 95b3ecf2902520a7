//! The AWS config parser and the SSO profile resolution never panic, whatever the file holds.
#![no_main]

use ssso::aws::config as awsconfig;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(cfg) = awsconfig::AwsConfig::parse(&text) {
        // Resolving every profile of a huge file is quadratic work that tells nothing new.
        for name in cfg.profile_names().into_iter().take(16) {
            let _ = cfg.sso_profile(&name);
        }
        let _ = cfg.sso_profiles_hint();
    }
});
