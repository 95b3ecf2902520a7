//! Which AWS profile ssso uses, and where that choice came from: `--profile`, then
//! `SSSO_PROFILE`, then the host's `SetEnv AWS_PROFILE=...` in the ssh config (looked up only
//! when needed, by the caller), then `AWS_PROFILE`. There is no fallback to `default`: syncing
//! a token to a remote host is something to choose, not to fall into. An empty value counts as
//! unset at every layer.

use crate::aws::config::AwsConfig;

/// Where the chosen profile came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// `--profile NAME`
    Flag,
    /// `SSSO_PROFILE=NAME` in ssso's environment
    SssoProfileEnv,
    /// `SetEnv AWS_PROFILE=NAME` for the host in the ssh config (`ssh -G`)
    SshSetEnv,
    /// `AWS_PROFILE=NAME` in ssso's environment
    AwsProfileEnv,
}

impl Source {
    /// Stable identifier for JSON output: "flag", "SSSO_PROFILE", "ssh-config", "AWS_PROFILE".
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Flag => "flag",
            Source::SssoProfileEnv => "SSSO_PROFILE",
            Source::SshSetEnv => "ssh-config",
            Source::AwsProfileEnv => "AWS_PROFILE",
        }
    }
}

impl std::fmt::Display for Source {
    /// For people: "--profile", "SSSO_PROFILE", "SetEnv in ssh config", "AWS_PROFILE".
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Source::Flag => "--profile",
            Source::SssoProfileEnv => "SSSO_PROFILE",
            Source::SshSetEnv => "SetEnv AWS_PROFILE in ssh config",
            Source::AwsProfileEnv => "AWS_PROFILE",
        })
    }
}

/// Choose the profile: `flag` > `SSSO_PROFILE` > `ssh_setenv()` > `AWS_PROFILE` > None.
/// `ssh_setenv` is called only when neither of the first two is set.
pub fn choose(
    flag: Option<&str>,
    ssh_setenv: impl FnOnce() -> Option<String>,
) -> Option<(String, Source)> {
    choose_from(flag, env_string("SSSO_PROFILE"), ssh_setenv, || {
        env_string("AWS_PROFILE")
    })
}

fn env_string(name: &str) -> Option<String> {
    std::env::var_os(name).map(|v| v.to_string_lossy().into_owned())
}

/// [`choose`] with the environment passed in (tests; no process-wide state).
pub(crate) fn choose_from(
    flag: Option<&str>,
    sso_env: Option<String>,
    ssh_setenv: impl FnOnce() -> Option<String>,
    aws_env: impl FnOnce() -> Option<String>,
) -> Option<(String, Source)> {
    let set = |v: Option<String>| v.filter(|s| !s.is_empty());
    if let Some(p) = set(flag.map(str::to_owned)) {
        return Some((p, Source::Flag));
    }
    if let Some(p) = set(sso_env) {
        return Some((p, Source::SssoProfileEnv));
    }
    if let Some(p) = set(ssh_setenv()) {
        return Some((p, Source::SshSetEnv));
    }
    set(aws_env()).map(|p| (p, Source::AwsProfileEnv))
}

/// Choose the profile (see [`choose`]), load the local AWS config and resolve the profile to
/// its SSO settings: what every command that needs a profile does first.
pub fn resolve(
    flag: Option<&str>,
    ssh_setenv: impl FnOnce() -> Option<String>,
) -> anyhow::Result<(Source, crate::aws::config::SsoProfile)> {
    let path = crate::aws::config::config_path()?;
    let Some((name, source)) = choose(flag, ssh_setenv) else {
        return Err(no_profile_error(AwsConfig::load(&path).ok().as_ref()));
    };
    crate::ui::debug(format_args!("profile {name} (from {source})"));
    let cfg = AwsConfig::load(&path)?;
    Ok((source, cfg.sso_profile(&name)?))
}

/// Error for "no profile chosen": lists the SSO profiles in the config (when it could be
/// read) and the four ways to choose one.
pub fn no_profile_error(cfg: Option<&AwsConfig>) -> anyhow::Error {
    let found = match cfg {
        Some(cfg) => format!("{}.\n", cfg.sso_profiles_hint()),
        None => String::new(),
    };
    anyhow::anyhow!(
        "no AWS profile chosen. {found}Choose one with any of (first wins):\n  \
         --profile NAME\n  \
         SSSO_PROFILE=NAME in the environment\n  \
         SetEnv AWS_PROFILE=NAME for the host in ~/.ssh/config\n  \
         AWS_PROFILE=NAME in the environment"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::conformance_dir;
    use crate::time::parse_timestamp;

    fn s(v: &str) -> Option<String> {
        Some(v.to_owned())
    }

    #[test]
    fn precedence() {
        let never = || -> Option<String> { panic!("looked up too early") };
        assert_eq!(
            choose_from(Some("a"), s("b"), never, never),
            Some(("a".into(), Source::Flag))
        );
        assert_eq!(
            choose_from(None, s("b"), never, never),
            Some(("b".into(), Source::SssoProfileEnv))
        );
        assert_eq!(
            choose_from(None, None, || s("c"), never),
            Some(("c".into(), Source::SshSetEnv))
        );
        assert_eq!(
            choose_from(None, None, || None, || s("d")),
            Some(("d".into(), Source::AwsProfileEnv))
        );
        assert_eq!(choose_from(None, None, || None, || None), None);
        // Empty counts as unset.
        assert_eq!(
            choose_from(Some(""), s(""), || s(""), || s("d")),
            Some(("d".into(), Source::AwsProfileEnv))
        );
        assert_eq!(choose_from(None, None, || s(""), || s("")), None);
    }

    #[test]
    fn source_names() {
        let all = [
            Source::Flag,
            Source::SssoProfileEnv,
            Source::SshSetEnv,
            Source::AwsProfileEnv,
        ];
        let ids: Vec<&str> = all.iter().map(|s| s.as_str()).collect();
        assert_eq!(ids, ["flag", "SSSO_PROFILE", "ssh-config", "AWS_PROFILE"]);
        assert_eq!(Source::Flag.to_string(), "--profile");
    }

    #[test]
    fn no_profile_message() {
        let cfg = AwsConfig::parse(
            "[profile a]\nsso_start_url = u\nsso_region = r\n[profile b]\nregion = x\n",
        )
        .unwrap();
        let e = no_profile_error(Some(&cfg)).to_string();
        assert!(e.contains("SSO profiles in the AWS config: a."), "{e}");
        for way in [
            "--profile",
            "SSSO_PROFILE",
            "SetEnv AWS_PROFILE",
            "AWS_PROFILE=",
        ] {
            assert!(e.contains(way), "{e}");
        }
        let e = no_profile_error(None).to_string();
        assert!(e.starts_with("no AWS profile chosen. Choose one"), "{e}");
        let empty = AwsConfig::parse("").unwrap();
        let e = no_profile_error(Some(&empty)).to_string();
        assert!(e.contains("aws configure sso"), "{e}");
    }

    /// smithy-rs token fixtures: a config and a token cache under a fake HOME; the profile is
    /// resolved, its cache file found and read. Deliberate differences, by scenario:
    /// - profile-provider/sso_token and invalid_sso_credentials_config: smithy-rs's
    ///   *credentials* provider refuses a token-only profile (no sso_account_id/sso_role_name);
    ///   ssso syncs the token, which is what such a profile is for, so it resolves.
    /// - profile-provider/sso_credentials: smithy-rs then calls the SSO portal for role
    ///   credentials; ssso stops at the token (no network).
    /// - sso_no_token_file: smithy-rs fails reading the cache file; ssso sees "no token" (and
    ///   would log in).
    #[test]
    fn conformance_token_fixtures() {
        let Some(dir) = conformance_dir("conformance_token_fixtures") else {
            return;
        };
        let root = dir.join("smithy-rs/token-fixtures");
        let mut seen = Vec::new();
        for group in std::fs::read_dir(&root).unwrap() {
            let group = group.unwrap().path();
            for scen in std::fs::read_dir(&group).unwrap() {
                let scen = scen.unwrap().path();
                if !scen.join("test-case.json").is_file() {
                    continue;
                }
                let name = format!(
                    "{}/{}",
                    group.file_name().unwrap().to_string_lossy(),
                    scen.file_name().unwrap().to_string_lossy()
                );
                let env: serde_json::Value =
                    serde_json::from_slice(&std::fs::read(scen.join("env.json")).unwrap()).unwrap();
                let case: serde_json::Value =
                    serde_json::from_slice(&std::fs::read(scen.join("test-case.json")).unwrap())
                        .unwrap();
                let home = scen.join("fs/home");
                let cfg = AwsConfig::load(&home.join(".aws/config")).unwrap();
                let profile = env["AWS_PROFILE"].as_str().unwrap_or("default");
                let sso = cfg
                    .sso_profile(profile)
                    .unwrap_or_else(|e| panic!("{name}: {e:#}"));
                let cache = crate::aws::token::cache_dir_from(Some(home.into_os_string())).unwrap();
                let token = crate::aws::token::read(&cache.join(&sso.cache_file_name)).unwrap();
                match name.as_str() {
                    "default-credential-provider-chain/sso_no_token_file" => {
                        let want = case["result"]["ErrorContains"].as_str().unwrap();
                        assert!(want.contains(&sso.cache_file_name), "{name}");
                        assert!(token.is_none(), "{name}");
                    }
                    "profile-provider/sso_token"
                    | "profile-provider/invalid_sso_credentials_config" => {
                        assert_eq!(sso.session.as_deref(), Some("dev"), "{name}");
                        assert_eq!(sso.account_id, None, "{name}");
                        if let Some(t) = token {
                            assert!(t.refreshable, "{name}");
                        }
                    }
                    "profile-provider/sso_credentials" => {
                        let t = token.expect(&name);
                        assert!(t.refreshable, "{name}");
                        assert_eq!(sso.account_id.as_deref(), Some("012345678901"));
                        assert_eq!(sso.role_name.as_deref(), Some("SampleRole"));
                        assert_eq!(
                            t.expires_at,
                            parse_timestamp("2199-11-14T04:05:45Z").unwrap()
                        );
                    }
                    _ => {
                        let ok = &case["result"]["Ok"];
                        let t = token.unwrap_or_else(|| panic!("{name}: no token"));
                        assert_eq!(
                            t.expires_at,
                            parse_timestamp(ok["expiration"].as_str().unwrap()).unwrap(),
                            "{name}"
                        );
                        let v: serde_json::Value = serde_json::from_slice(&t.bytes).unwrap();
                        assert_eq!(v["accessToken"], ok["token"], "{name}");
                        assert!(!t.refreshable, "{name}");
                    }
                }
                seen.push(name);
            }
        }
        seen.sort();
        assert_eq!(
            seen,
            [
                "default-credential-provider-chain/sso_no_token_file",
                "default-token-provider-chain/profile_keys",
                "default-token-provider-chain/profile_keys_case_insensitive",
                "default-token-provider-chain/profile_name",
                "profile-provider/invalid_sso_credentials_config",
                "profile-provider/sso_credentials",
                "profile-provider/sso_token",
            ]
        );
    }
}
