//! The local AWS config file (`$AWS_CONFIG_FILE` or `~/.aws/config`): where it is, how it is
//! parsed, and how a profile resolves to its IAM Identity Center (SSO) settings.
//!
//! The parser follows the cross-SDK profile-file rules (the smithy-rs / AWS SDK conformance
//! cases): `[profile NAME]`, `[default]` and `[sso-session NAME]` sections, `key = value`
//! properties with lowercased keys, continuation lines, sub-properties, `#`/`;` comments, and
//! the same three things silently ignored (sections with invalid names, unprefixed sections
//! other than `[default]`, keys that are not identifiers). On top of the SDKs' view it keeps the
//! exact bytes of every section ([`Section`]), so that the connect path can copy a profile and
//! its `[sso-session]` to the remote as they stand here. `~/.aws/credentials` is never read:
//! ssso only deals in IAM Identity Center tokens, never in long-term credentials.

use std::collections::{BTreeMap, HashSet};
use std::ffi::OsString;
use std::ops::Range;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

/// Blanks as the profile-file spec knows them (not Unicode whitespace).
const BLANK: &[char] = &[' ', '\t'];
const COMMENT: &[char] = &['#', ';'];

/// The refusal printed for profiles that would need long-term credentials.
const REFUSAL: &str =
    "ssso only syncs IAM Identity Center tokens; it never copies long-term credentials";

/// Keys that carry or produce credentials other than an IAM Identity Center token.
const CREDENTIAL_KEYS: &[&str] = &[
    "aws_access_key_id",
    "aws_secret_access_key",
    "aws_session_token",
    "credential_process",
];

/// Keys that make the SDKs assume a role instead of using the profile's own SSO settings.
const ROLE_KEYS: &[&str] = &[
    "role_arn",
    "source_profile",
    "credential_source",
    "web_identity_token_file",
];

/// Where the AWS CLI reads its config: `$AWS_CONFIG_FILE` (a leading `~` expanded) or
/// `$HOME/.aws/config`.
pub fn config_path() -> anyhow::Result<PathBuf> {
    config_path_from(
        std::env::var_os("AWS_CONFIG_FILE"),
        std::env::var_os("HOME"),
    )
}

/// [`config_path`] with the environment passed in (tests; no process-wide state).
pub(crate) fn config_path_from(
    aws_config_file: Option<OsString>,
    home: Option<OsString>,
) -> anyhow::Result<PathBuf> {
    let home = home.filter(|h| !h.is_empty());
    if let Some(file) = aws_config_file.filter(|f| !f.is_empty()) {
        let s = file.to_string_lossy();
        if s == "~" || s.starts_with("~/") {
            let home = home.context(
                "AWS_CONFIG_FILE starts with `~` but HOME is not set; set HOME or give AWS_CONFIG_FILE as an absolute path",
            )?;
            let rest = s
                .strip_prefix('~')
                .unwrap_or_default()
                .trim_start_matches('/');
            let mut p = PathBuf::from(home);
            if !rest.is_empty() {
                p.push(rest);
            }
            return Ok(p);
        }
        return Ok(PathBuf::from(file));
    }
    let home = home.context(
        "HOME is not set, so the AWS config file cannot be found; set HOME or AWS_CONFIG_FILE",
    )?;
    Ok(PathBuf::from(home).join(".aws").join("config"))
}

/// One section exactly as it stands in the local file, for copying to the remote.
///
/// Debug shows the header and sizes only: a section of the file may hold static keys.
#[derive(Clone, PartialEq, Eq)]
pub struct Section {
    /// Normalized header: "profile NAME", "default", or "sso-session NAME" (inner text of the
    /// brackets, trimmed, runs of blanks collapsed to one space).
    pub header: String,
    /// The exact bytes from the start of the header line through the end of the section's last
    /// property line (including its line ending), NOT including trailing blank/comment lines
    /// that precede the next header. Always ends with "\n" (one is added if the file had none
    /// at EOF).
    ///
    /// When the SDKs merge several sections into one profile (the same header more than once
    /// in the file), the [`Section`] returned for that profile holds all of them, each from its
    /// own header line, in file order; the merge then happens the same way on the remote.
    pub text: String,
    /// Byte ranges in the parsed text that `text` was taken from (one per header; a single one
    /// unless the profile is split as described above). A range ends where `text` ends, minus
    /// the `\n` added at EOF.
    pub spans: Vec<Range<usize>>,
}

impl std::fmt::Debug for Section {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Section")
            .field("header", &self.header)
            .field("text", &format_args!("<{} bytes>", self.text.len()))
            .field("spans", &self.spans)
            .finish()
    }
}

/// A profile resolved to the settings of its IAM Identity Center token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SsoProfile {
    pub profile: String,
    /// The `[sso-session NAME]` the profile uses; None for a legacy profile (sso_start_url in
    /// the profile itself).
    pub session: Option<String>,
    pub start_url: String,
    pub region: String,
    /// `sso_registration_scopes` of the sso-session (legacy profiles have none).
    pub scopes: Option<String>,
    /// `sso_account_id` / `sso_role_name`; None for a token-only profile (for services that
    /// take the bearer token itself, such as CodeCatalyst).
    pub account_id: Option<String>,
    pub role_name: Option<String>,
    /// Token cache file name, `<sha1hex>.json` of the session name or the legacy start URL.
    pub cache_file_name: String,
    pub profile_section: Section,
    pub session_section: Option<Section>,
}

/// What a section is, after the SDKs' normalization.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    /// `[profile NAME]` (prefixed) or `[default]` (unprefixed, config file).
    Profile {
        name: String,
        prefixed: bool,
    },
    SsoSession(String),
    /// A valid section of another kind (`[services x]`...): kept, never used.
    Other,
    /// Ignored by the SDKs, with the reason.
    Ignored(String),
}

/// Which file a text is: ssso reads config files only; the credentials rules exist only to run
/// the conformance cases that mix both files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FileKind {
    Config,
    #[cfg(test)]
    Credentials,
}

#[derive(Clone)]
struct Block {
    header: String,
    kind: Kind,
    span: Range<usize>,
    /// (lowercased key, value) in file order; continuation lines already joined.
    props: Vec<(String, String)>,
}

/// A parsed AWS config file. Debug lists sections and keys, never values.
#[derive(Clone)]
pub struct AwsConfig {
    path: Option<PathBuf>,
    text: String,
    blocks: Vec<Block>,
}

impl std::fmt::Debug for AwsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sections: Vec<String> = self
            .blocks
            .iter()
            .map(|b| {
                let keys: Vec<&str> = b.props.iter().map(|(k, _)| k.as_str()).collect();
                format!("[{}] {}", b.header, keys.join(" "))
            })
            .collect();
        f.debug_struct("AwsConfig")
            .field("path", &self.path)
            .field("sections", &sections)
            .finish()
    }
}

impl SsoProfile {
    /// Its token file: `$HOME/.aws/sso/cache/<sha1>.json`.
    pub fn cache_path(&self) -> anyhow::Result<PathBuf> {
        Ok(crate::aws::token::cache_dir()?.join(&self.cache_file_name))
    }
}

impl AwsConfig {
    /// Read and parse the config file at `path`.
    pub fn load(path: &Path) -> anyhow::Result<AwsConfig> {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => bail!(
                "AWS config file {} does not exist; run `aws configure sso` to create an SSO profile (or set AWS_CONFIG_FILE)",
                path.display()
            ),
            Err(e) => {
                return Err(e).with_context(|| {
                    format!(
                        "cannot read AWS config file {}; check its permissions",
                        path.display()
                    )
                });
            }
        };
        let text = String::from_utf8(bytes).map_err(|e| {
            anyhow::anyhow!(
                "AWS config file {} is not valid UTF-8 (byte {}); fix the file or run `aws configure sso`",
                path.display(),
                e.utf8_error().valid_up_to()
            )
        })?;
        let mut cfg = Self::parse_kind(&text, FileKind::Config).with_context(|| {
            format!(
                "cannot parse AWS config file {}; fix that line (see `aws configure sso`)",
                path.display()
            )
        })?;
        for b in &cfg.blocks {
            if let Kind::Ignored(why) = &b.kind {
                crate::ui::debug(format_args!("{}: {why}", path.display()));
            }
        }
        cfg.path = Some(path.to_owned());
        Ok(cfg)
    }

    /// Parse config-file text (no path in messages).
    #[allow(
        dead_code,
        reason = "for the sync path (lead): the remote config's text"
    )]
    pub fn parse(text: &str) -> anyhow::Result<AwsConfig> {
        Self::parse_kind(text, FileKind::Config)
    }

    pub(crate) fn parse_kind(text: &str, kind: FileKind) -> anyhow::Result<AwsConfig> {
        let blocks = parse_blocks(text, kind)?;
        Ok(AwsConfig {
            path: None,
            text: text.to_owned(),
            blocks,
        })
    }

    /// Every section of the file in file order, including ones the SDKs ignore (an
    /// unprefixed `[foo]`, `[profile in valid]`) and other kinds (`[services x]`), each with
    /// its own header.
    #[allow(
        dead_code,
        reason = "for the sync path (lead), to edit the remote config"
    )]
    pub fn sections(&self) -> Vec<Section> {
        self.blocks.iter().map(|b| self.section_of(&[b])).collect()
    }

    /// Names of the profiles that use IAM Identity Center (they have `sso_session` or
    /// `sso_start_url`), in the order they first appear.
    /// One pass over the file (a config with thousands of profiles stays fast).
    pub fn sso_profile_names(&self) -> Vec<String> {
        let sso_key = |b: &Block| {
            b.props
                .iter()
                .any(|(k, _)| k == "sso_session" || k == "sso_start_url")
        };
        let mut sso: HashSet<&str> = HashSet::new();
        for b in &self.blocks {
            if let Kind::Profile { name, .. } = &b.kind
                && name != "default"
                && sso_key(b)
            {
                sso.insert(name);
            }
        }
        self.profile_names()
            .into_iter()
            .filter(|n| {
                if n == "default" {
                    // `[default]` and `[profile default]` do not simply merge: ask the rule.
                    self.profile_blocks(n).into_iter().any(sso_key)
                } else {
                    sso.contains(n.as_str())
                }
            })
            .collect()
    }

    /// Names of all valid profiles, in the order they first appear.
    pub fn profile_names(&self) -> Vec<String> {
        let mut seen: HashSet<&str> = HashSet::new();
        let mut out: Vec<String> = Vec::new();
        for b in &self.blocks {
            if let Kind::Profile { name, .. } = &b.kind
                && seen.insert(name)
            {
                out.push(name.clone());
            }
        }
        out
    }

    /// Names of all `[sso-session NAME]` sections, in the order they first appear.
    pub fn sso_session_names(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for b in &self.blocks {
            if let Kind::SsoSession(name) = &b.kind
                && !out.contains(name)
            {
                out.push(name.clone());
            }
        }
        out
    }

    /// The blocks that make up profile `name`, as the SDKs merge them: `[profile default]`
    /// replaces any `[default]`.
    fn profile_blocks(&self, name: &str) -> Vec<&Block> {
        let of_name = |b: &&Block| matches!(&b.kind, Kind::Profile { name: n, .. } if n == name);
        let any_prefixed = self
            .blocks
            .iter()
            .filter(of_name)
            .any(|b| matches!(b.kind, Kind::Profile { prefixed: true, .. }));
        self.blocks
            .iter()
            .filter(of_name)
            .filter(|b| {
                name != "default"
                    || !any_prefixed
                    || matches!(b.kind, Kind::Profile { prefixed: true, .. })
            })
            .collect()
    }

    fn session_blocks(&self, name: &str) -> Vec<&Block> {
        self.blocks
            .iter()
            .filter(|b| matches!(&b.kind, Kind::SsoSession(n) if n == name))
            .collect()
    }

    /// A profile's merged properties (keys lowercased, last definition wins, invalid keys
    /// dropped), or None when there is no such profile.
    #[cfg(test)]
    pub fn profile_props(&self, name: &str) -> Option<BTreeMap<String, String>> {
        merged(&self.profile_blocks(name))
    }

    /// An sso-session's merged properties, or None when there is no such section.
    #[allow(dead_code, reason = "API for callers; used by the tests")]
    pub fn session_props(&self, name: &str) -> Option<BTreeMap<String, String>> {
        merged(&self.session_blocks(name))
    }

    fn section_of(&self, blocks: &[&Block]) -> Section {
        let mut text = String::new();
        for b in blocks {
            text.push_str(&self.text[b.span.clone()]);
            if !text.ends_with('\n') {
                text.push('\n');
            }
        }
        Section {
            header: blocks.first().map(|b| b.header.clone()).unwrap_or_default(),
            text,
            spans: blocks.iter().map(|b| b.span.clone()).collect(),
        }
    }

    fn where_(&self) -> String {
        match &self.path {
            Some(p) => p.display().to_string(),
            None => "the AWS config".to_owned(),
        }
    }

    /// "SSO profiles in PATH: a, b" or "there are no SSO profiles in PATH", for messages.
    pub fn sso_profiles_hint(&self) -> String {
        let names = self.sso_profile_names();
        if names.is_empty() {
            format!(
                "there are no SSO profiles in {}; run `aws configure sso` to create one",
                self.where_()
            )
        } else {
            format!("SSO profiles in {}: {}", self.where_(), names.join(", "))
        }
    }

    /// Resolve a profile to its SSO settings: `sso_session` -> `[sso-session S]`
    /// (sso_start_url, sso_region, sso_registration_scopes) or legacy (sso_start_url +
    /// sso_region in the profile).
    ///
    /// Errors: unknown profile (lists the SSO profiles found), the profile's sso-session
    /// section missing or incomplete, and a refusal for profiles that are not plain SSO
    /// profiles (static keys, credential_process, role chaining via role_arn/source_profile...).
    pub fn sso_profile(&self, name: &str) -> anyhow::Result<SsoProfile> {
        if !is_identifier(name) {
            bail!(
                "`{name}` is not a valid AWS profile name: the AWS SDKs accept only letters, digits and _-/.%@:+ (and ignore sections with other names)"
            );
        }
        let blocks = self.profile_blocks(name);
        let Some(props) = merged(&blocks) else {
            bail!(
                "AWS profile `{name}` is not in {}. {}",
                self.where_(),
                self.sso_profiles_hint()
            );
        };
        let section_name = if name == "default" {
            "[default]".to_owned()
        } else {
            format!("[profile {name}]")
        };
        let get = |key: &str| props.get(key).filter(|v| !v.is_empty()).cloned();

        let creds: Vec<&str> = CREDENTIAL_KEYS
            .iter()
            .copied()
            .filter(|k| props.contains_key(*k))
            .collect();
        if !creds.is_empty() {
            bail!(
                "AWS profile `{name}` has {} in {section_name} of {}: {REFUSAL}. Use a profile that only has IAM Identity Center settings. {}",
                creds.join(", "),
                self.where_(),
                self.sso_profiles_hint()
            );
        }
        let roles: Vec<&str> = ROLE_KEYS
            .iter()
            .copied()
            .filter(|k| props.contains_key(*k))
            .collect();
        if !roles.is_empty() {
            bail!(
                "AWS profile `{name}` assumes a role ({} in {section_name} of {}); ssso only syncs profiles that take their credentials straight from IAM Identity Center ({REFUSAL}). Use the SSO profile itself. {}",
                roles.join(", "),
                self.where_(),
                self.sso_profiles_hint()
            );
        }

        let (session, start_url, region, scopes, session_section) = if let Some(session) =
            props.get("sso_session")
        {
            if session.is_empty() {
                bail!(
                    "AWS profile `{name}` has an empty sso_session in {}; set it to the name of an [sso-session NAME] section (run `aws configure sso`)",
                    self.where_()
                );
            }
            let sblocks = self.session_blocks(session);
            let Some(sprops) = merged(&sblocks) else {
                let known = self.sso_session_names();
                bail!(
                    "AWS profile `{name}` uses sso_session `{session}`, but {} has no [sso-session {session}] section{}; run `aws configure sso-session` to create it",
                    self.where_(),
                    if known.is_empty() {
                        String::new()
                    } else {
                        format!(" (sessions there: {})", known.join(", "))
                    }
                );
            };
            let sget = |key: &str| sprops.get(key).filter(|v| !v.is_empty()).cloned();
            let missing = |key: &str| {
                anyhow::anyhow!(
                    "[sso-session {session}] in {} has no {key}; add it (run `aws configure sso-session`)",
                    self.where_()
                )
            };
            let start_url = sget("sso_start_url").ok_or_else(|| missing("sso_start_url"))?;
            let region = sget("sso_region").ok_or_else(|| missing("sso_region"))?;
            // botocore refuses a profile whose own sso_start_url / sso_region contradict its
            // sso-session's.
            for (key, val) in [("sso_start_url", &start_url), ("sso_region", &region)] {
                if let Some(own) = get(key)
                    && &own != val
                {
                    bail!(
                        "AWS profile `{name}` sets {key} = {own}, but its [sso-session {session}] says {val}; remove {key} from {section_name} in {} (the AWS CLI refuses this too)",
                        self.where_()
                    );
                }
            }
            (
                Some(session.clone()),
                start_url,
                region,
                sget("sso_registration_scopes"),
                Some(self.section_of(&sblocks)),
            )
        } else if let Some(start_url) = get("sso_start_url") {
            let region = get("sso_region").with_context(|| {
                format!(
                    "AWS profile `{name}` has sso_start_url but no sso_region in {}; add sso_region (or run `aws configure sso`)",
                    self.where_()
                )
            })?;
            (None, start_url, region, None, None)
        } else {
            bail!(
                "AWS profile `{name}` is not an IAM Identity Center (SSO) profile: it has neither sso_session nor sso_start_url in {}. {REFUSAL}. {}",
                self.where_(),
                self.sso_profiles_hint()
            );
        };

        let key = session.as_deref().unwrap_or(&start_url);
        Ok(SsoProfile {
            profile: name.to_owned(),
            cache_file_name: crate::aws::token::cache_file_name(key),
            session,
            start_url,
            region,
            scopes,
            account_id: get("sso_account_id"),
            role_name: get("sso_role_name"),
            profile_section: self.section_of(&blocks),
            session_section,
        })
    }
}

/// Merge blocks' properties in file order (later wins); None for no blocks.
fn merged(blocks: &[&Block]) -> Option<BTreeMap<String, String>> {
    if blocks.is_empty() {
        return None;
    }
    let mut out = BTreeMap::new();
    for b in blocks {
        for (k, v) in &b.props {
            if is_identifier(k) {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    Some(out)
}

/// `[A-Za-z0-9_\-/.%@:+]+`, the SDKs' rule for profile names and keys.
fn is_identifier(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-/.%@:+".contains(c))
}

/// Strip blanks, then a trailing comment. In property lines a comment starts only after a
/// blank (`a = b#c` keeps `#c`); in headers it starts anywhere.
fn prepare_line(line: &str, comments_need_blank: bool) -> &str {
    let line = line.trim_matches(BLANK);
    let mut prev_blank = false;
    let mut cut = line.len();
    for (i, c) in line.char_indices() {
        if COMMENT.contains(&c) && (prev_blank || !comments_need_blank) {
            cut = i;
            break;
        }
        prev_blank = c.is_whitespace();
    }
    line[..cut].trim_matches(BLANK)
}

/// Why a property line is not one.
enum PropError {
    NoEquals,
    NoName,
}

fn parse_property(line: &str) -> Result<(String, String), PropError> {
    let line = prepare_line(line, true);
    let (k, v) = line.split_once('=').ok_or(PropError::NoEquals)?;
    let k = k.trim_matches(BLANK);
    if k.is_empty() {
        return Err(PropError::NoName);
    }
    Ok((k.to_ascii_lowercase(), v.trim_matches(BLANK).to_owned()))
}

fn prop_error(e: PropError, what: &str, line_no: usize) -> anyhow::Error {
    match e {
        PropError::NoEquals => {
            anyhow::anyhow!("line {line_no}: Expected an '=' sign defining a {what}")
        }
        PropError::NoName => {
            let mut w = what.to_owned();
            if let Some(f) = w.get_mut(0..1) {
                f.make_ascii_uppercase();
            }
            anyhow::anyhow!("line {line_no}: {w} did not have a name")
        }
    }
}

/// Normalize a header's inner text: trimmed, runs of blanks collapsed to one space.
fn normalize_header(inner: &str) -> String {
    let mut out = String::new();
    for word in inner.split(BLANK).filter(|w| !w.is_empty()) {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// Classify a header's inner text the way the SDKs normalize section names.
fn classify(inner: &str, file: FileKind) -> Kind {
    let inner = inner.trim_matches(BLANK);
    let (prefix, suffix) = match inner.split_once(BLANK) {
        Some((p, s)) => (Some(p.trim()), s.trim()),
        None => (None, inner.trim()),
    };
    match file {
        FileKind::Config => match prefix {
            Some(prefix) => {
                if !is_identifier(suffix) {
                    Kind::Ignored(format!(
                        "section [{prefix} {suffix}] ignored; `{suffix}` is not a valid name"
                    ))
                } else if prefix == "profile" {
                    Kind::Profile {
                        name: suffix.to_owned(),
                        prefixed: true,
                    }
                } else if prefix == "sso-session" {
                    Kind::SsoSession(suffix.to_owned())
                } else {
                    Kind::Other
                }
            }
            None if suffix == "default" => Kind::Profile {
                name: "default".to_owned(),
                prefixed: false,
            },
            None => Kind::Ignored(format!(
                "section [{suffix}] ignored; sections other than [default] need a prefix, e.g. [profile {suffix}]"
            )),
        },
        #[cfg(test)]
        FileKind::Credentials => match prefix {
            Some(prefix) => Kind::Ignored(format!(
                "section [{prefix} {suffix}] ignored in a credentials file"
            )),
            None if is_identifier(suffix) => Kind::Profile {
                name: suffix.to_owned(),
                prefixed: false,
            },
            None => Kind::Ignored(format!("section [{suffix}] ignored; not a valid name")),
        },
    }
}

/// Split `text` into lines with their byte ranges: (content without the line ending, start of
/// line, end of line including its ending). Like `str::lines`, a `\r` is dropped only before
/// `\n`.
fn lines_with_spans(text: &str) -> impl Iterator<Item = (&str, usize, usize)> {
    let mut pos = 0;
    text.split_inclusive('\n').map(move |raw| {
        let start = pos;
        pos += raw.len();
        let content = match raw.strip_suffix('\n') {
            Some(l) => l.strip_suffix('\r').unwrap_or(l),
            None => raw,
        };
        (content, start, pos)
    })
}

fn parse_blocks(text: &str, file: FileKind) -> anyhow::Result<Vec<Block>> {
    let mut blocks: Vec<Block> = Vec::new();
    // Index (into the current block's props) of the property that continuation lines extend,
    // and whether it is a sub-property group (`s3 =` with nothing after the `=`).
    let mut current: Option<(usize, bool)> = None;
    for (i, (line, start, end)) in lines_with_spans(text).enumerate() {
        let line_no = i + 1;
        if line.trim_matches(BLANK).is_empty() || line.starts_with(COMMENT) {
            continue;
        }
        if line.starts_with('[') {
            let prepared = prepare_line(line, false);
            let inner = prepared
                .strip_prefix('[')
                .unwrap_or(prepared)
                .strip_suffix(']')
                .ok_or_else(|| {
                    anyhow::anyhow!("line {line_no}: Profile definition must end with ']'")
                })?;
            blocks.push(Block {
                header: normalize_header(inner),
                kind: classify(inner, file),
                span: start..end,
                props: Vec::new(),
            });
            current = None;
        } else if line.starts_with(BLANK) {
            let Some(block) = blocks.last_mut() else {
                bail!("line {line_no}: Expected a profile definition");
            };
            let Some((idx, is_sub)) = current else {
                bail!("line {line_no}: Expected a property definition, found continuation");
            };
            if is_sub && !line.trim_matches(BLANK).is_empty() {
                parse_property(line).map_err(|e| prop_error(e, "sub-property", line_no))?;
            }
            let value = &mut block.props[idx].1;
            value.push('\n');
            value.push_str(line.trim_matches(BLANK));
            block.span.end = end;
        } else {
            let Some(block) = blocks.last_mut() else {
                bail!("line {line_no}: Expected a profile definition");
            };
            let (k, v) = parse_property(line).map_err(|e| prop_error(e, "property", line_no))?;
            current = Some((block.props.len(), v.is_empty()));
            block.props.push((k, v));
            block.span.end = end;
        }
    }
    Ok(blocks)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::fmt::Write as _;

    fn p(text: &str) -> AwsConfig {
        AwsConfig::parse(text).unwrap()
    }

    // ---------------------------------------------------------------- config_path

    #[test]
    fn config_path_rules() {
        let f = |a: Option<&str>, h: Option<&str>| {
            config_path_from(a.map(Into::into), h.map(Into::into))
        };
        assert_eq!(
            f(None, Some("/home/u")).unwrap(),
            PathBuf::from("/home/u/.aws/config")
        );
        assert_eq!(
            f(Some(""), Some("/home/u")).unwrap(),
            PathBuf::from("/home/u/.aws/config")
        );
        assert_eq!(
            f(Some("/etc/x"), Some("/home/u")).unwrap(),
            PathBuf::from("/etc/x")
        );
        assert_eq!(
            f(Some("~/cfg/aws"), Some("/home/u")).unwrap(),
            PathBuf::from("/home/u/cfg/aws")
        );
        assert_eq!(
            f(Some("~"), Some("/home/u")).unwrap(),
            PathBuf::from("/home/u")
        );
        // `~user` is not expanded (neither do the SDKs).
        assert_eq!(
            f(Some("~bob/x"), Some("/home/u")).unwrap(),
            PathBuf::from("~bob/x")
        );
        assert_eq!(f(Some("rel/x"), None).unwrap(), PathBuf::from("rel/x"));
        assert!(f(None, None).is_err());
        assert!(f(Some("~/x"), None).is_err());
    }

    // ---------------------------------------------------------------- sections

    #[test]
    fn section_text_plain_and_comments_between() {
        let text = "# top\n[default]\nregion = eu-west-1\n\n# about dev\n; more\n[profile dev]\nsso_session = s\n# inside\nsso_account_id = 1\n\n\n[sso-session s]\nsso_start_url = https://x/start\nsso_region = eu-west-1\n# trailing comment\n";
        let cfg = p(text);
        let secs = cfg.sections();
        assert_eq!(secs.len(), 3);
        assert_eq!(secs[0].header, "default");
        assert_eq!(secs[0].text, "[default]\nregion = eu-west-1\n");
        assert_eq!(secs[1].header, "profile dev");
        assert_eq!(
            secs[1].text,
            "[profile dev]\nsso_session = s\n# inside\nsso_account_id = 1\n"
        );
        assert_eq!(secs[2].header, "sso-session s");
        assert_eq!(
            secs[2].text,
            "[sso-session s]\nsso_start_url = https://x/start\nsso_region = eu-west-1\n"
        );
        for s in &secs {
            assert_eq!(s.spans.len(), 1);
            assert_eq!(&text[s.spans[0].clone()], s.text);
        }
    }

    #[test]
    fn section_text_crlf_and_no_trailing_newline() {
        let text = "[profile a]\r\nsso_session = s\r\n\r\n[sso-session s]\r\nsso_region = r\r\nsso_start_url = u";
        let cfg = p(text);
        let secs = cfg.sections();
        assert_eq!(secs[0].text, "[profile a]\r\nsso_session = s\r\n");
        assert_eq!(
            secs[1].text,
            "[sso-session s]\r\nsso_region = r\r\nsso_start_url = u\n"
        );
        assert_eq!(secs[1].spans[0].end, text.len());
        let sso = cfg.sso_profile("a").unwrap();
        assert_eq!(sso.start_url, "u");
        assert_eq!(sso.region, "r");
    }

    #[test]
    fn section_text_header_only_and_header_comment() {
        let cfg = p("[profile a] ; note\n\n[profile b]");
        let secs = cfg.sections();
        assert_eq!(secs[0].text, "[profile a] ; note\n");
        assert_eq!(secs[1].text, "[profile b]\n");
    }

    #[test]
    fn section_text_includes_continuations() {
        let cfg = p("[profile a]\ns3 =\n  max_concurrent_requests = 20\n\n[profile b]\n");
        assert_eq!(
            cfg.sections()[0].text,
            "[profile a]\ns3 =\n  max_concurrent_requests = 20\n"
        );
        assert_eq!(
            cfg.profile_props("a").unwrap()["s3"],
            "\nmax_concurrent_requests = 20"
        );
    }

    #[test]
    fn header_normalized() {
        let cfg = p("[  profile \t  a  ]\nx = 1\n[sso-session\tss]\n");
        let secs = cfg.sections();
        assert_eq!(secs[0].header, "profile a");
        assert_eq!(secs[1].header, "sso-session ss");
    }

    #[test]
    fn split_profile_collects_all_blocks() {
        let text = "[profile a]\nsso_session = s\n[profile b]\nregion = x\n[profile a]\nsso_account_id = 1\nsso_role_name = R\n[sso-session s]\nsso_start_url = u\nsso_region = r\n";
        let cfg = p(text);
        let sso = cfg.sso_profile("a").unwrap();
        assert_eq!(
            sso.profile_section.text,
            "[profile a]\nsso_session = s\n[profile a]\nsso_account_id = 1\nsso_role_name = R\n"
        );
        assert_eq!(sso.profile_section.spans.len(), 2);
        assert_eq!(sso.account_id.as_deref(), Some("1"));
    }

    #[test]
    fn profile_default_beats_default() {
        let text = "[default]\nsso_start_url = old\nsso_region = r\n[profile default]\nsso_start_url = new\nsso_region = r\n";
        let sso = p(text).sso_profile("default").unwrap();
        assert_eq!(sso.start_url, "new");
        assert_eq!(sso.profile_section.header, "profile default");
        assert_eq!(
            sso.profile_section.text,
            "[profile default]\nsso_start_url = new\nsso_region = r\n"
        );
        let sso = p("[default]\nsso_start_url = u\nsso_region = r\n")
            .sso_profile("default")
            .unwrap();
        assert_eq!(sso.profile_section.header, "default");
    }

    // ---------------------------------------------------------------- resolution

    const CFG: &str = "\
[profile dev]
sso_session = corp
sso_account_id = 111122223333
sso_role_name = Dev
region = eu-west-1

[profile legacy]
sso_start_url = https://d-123.awsapps.com/start
sso_region = us-east-1
sso_account_id = 1
sso_role_name = R

[profile static]
aws_access_key_id = AKIAEXAMPLE
aws_secret_access_key = SECRETSECRET

[profile proc]
credential_process = /bin/creds

[profile chain]
role_arn = arn:aws:iam::1:role/x
source_profile = dev

[profile plain]
region = eu-west-1

[profile nosession]
sso_session = nope

[profile halfsession]
sso_session = half

[profile legacy-noregion]
sso_start_url = https://x/start

[profile mismatch]
sso_session = corp
sso_start_url = https://other/start

[sso-session corp]
sso_start_url = https://corp.awsapps.com/start
sso_region = eu-central-1
sso_registration_scopes = sso:account:access

[sso-session half]
sso_region = eu-central-1
";

    #[test]
    fn resolves_session_profile() {
        let sso = p(CFG).sso_profile("dev").unwrap();
        assert_eq!(sso.profile, "dev");
        assert_eq!(sso.session.as_deref(), Some("corp"));
        assert_eq!(sso.start_url, "https://corp.awsapps.com/start");
        assert_eq!(sso.region, "eu-central-1");
        assert_eq!(sso.scopes.as_deref(), Some("sso:account:access"));
        assert_eq!(
            sso.cache_file_name,
            crate::aws::token::cache_file_name("corp")
        );
        assert_eq!(sso.account_id.as_deref(), Some("111122223333"));
        assert_eq!(sso.role_name.as_deref(), Some("Dev"));
        assert!(sso.profile_section.text.starts_with("[profile dev]\n"));
        assert!(sso.profile_section.text.ends_with("region = eu-west-1\n"));
        let ss = sso.session_section.unwrap();
        assert_eq!(ss.header, "sso-session corp");
        assert!(
            ss.text
                .ends_with("sso_registration_scopes = sso:account:access\n")
        );
    }

    #[test]
    fn resolves_legacy_profile() {
        let sso = p(CFG).sso_profile("legacy").unwrap();
        assert_eq!(sso.session, None);
        assert_eq!(sso.start_url, "https://d-123.awsapps.com/start");
        assert_eq!(sso.region, "us-east-1");
        assert_eq!(sso.scopes, None);
        assert_eq!(sso.session_section, None);
        assert_eq!(
            sso.cache_file_name,
            crate::aws::token::cache_file_name("https://d-123.awsapps.com/start")
        );
    }

    fn err(name: &str) -> String {
        format!("{:#}", p(CFG).sso_profile(name).unwrap_err())
    }

    #[test]
    fn resolution_errors() {
        let e = err("nope");
        assert!(e.contains("`nope` is not in"), "{e}");
        assert!(
            e.contains("SSO profiles in the AWS config: dev, legacy"),
            "{e}"
        );

        let e = err("static");
        assert!(
            e.contains("aws_access_key_id, aws_secret_access_key"),
            "{e}"
        );
        assert!(e.contains("never copies long-term credentials"), "{e}");
        assert!(
            !e.contains("SECRETSECRET") && !e.contains("AKIAEXAMPLE"),
            "{e}"
        );

        let e = err("proc");
        assert!(e.contains("credential_process"), "{e}");
        assert!(e.contains("never copies long-term credentials"), "{e}");

        let e = err("chain");
        assert!(
            e.contains("assumes a role (role_arn, source_profile"),
            "{e}"
        );

        let e = err("plain");
        assert!(
            e.contains("not an IAM Identity Center (SSO) profile"),
            "{e}"
        );
        assert!(e.contains("never copies long-term credentials"), "{e}");

        let e = err("nosession");
        assert!(e.contains("no [sso-session nope] section"), "{e}");
        assert!(e.contains("sessions there: corp, half"), "{e}");
        assert!(e.contains("aws configure sso-session"), "{e}");

        let e = err("halfsession");
        assert!(
            e.contains("[sso-session half]") && e.contains("no sso_start_url"),
            "{e}"
        );

        let e = err("legacy-noregion");
        assert!(e.contains("no sso_region"), "{e}");

        let e = err("mismatch");
        assert!(
            e.contains("sso_start_url") && e.contains("[sso-session corp]"),
            "{e}"
        );
    }

    #[test]
    fn no_sso_profiles_hint() {
        let cfg = p("[default]\nregion = x\n");
        assert_eq!(cfg.sso_profile_names(), Vec::<String>::new());
        let e = format!("{:#}", cfg.sso_profile("x").unwrap_err());
        assert!(e.contains("aws configure sso"), "{e}");
    }

    #[test]
    fn debug_never_shows_values() {
        let cfg = p(CFG);
        let d = format!("{cfg:?} {:?}", cfg.sections());
        assert!(
            d.contains("[profile static] aws_access_key_id aws_secret_access_key"),
            "{d}"
        );
        assert!(
            !d.contains("SECRETSECRET") && !d.contains("AKIAEXAMPLE"),
            "{d}"
        );
    }

    #[test]
    fn sso_profile_names_in_file_order() {
        assert_eq!(
            p(CFG).sso_profile_names(),
            [
                "dev",
                "legacy",
                "nosession",
                "halfsession",
                "legacy-noregion",
                "mismatch"
            ]
        );
    }

    #[test]
    fn load_errors_name_the_path() {
        let dir = std::env::temp_dir().join(format!("ssso-awscfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let missing = dir.join("missing");
        let e = format!("{:#}", AwsConfig::load(&missing).unwrap_err());
        assert!(e.contains(&missing.display().to_string()), "{e}");
        assert!(e.contains("aws configure sso"), "{e}");

        let bad = dir.join("bad");
        std::fs::write(&bad, "[profile a]\nx = 1\n[profile b\n").unwrap();
        let e = format!("{:#}", AwsConfig::load(&bad).unwrap_err());
        assert!(e.contains(&bad.display().to_string()), "{e}");
        assert!(
            e.contains("line 3: Profile definition must end with ']'"),
            "{e}"
        );

        let good = dir.join("good");
        std::fs::write(&good, CFG).unwrap();
        let cfg = AwsConfig::load(&good).unwrap();
        let e = format!("{:#}", cfg.sso_profile("nope").unwrap_err());
        assert!(e.contains(&good.display().to_string()), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    // ---------------------------------------------------------------- conformance

    fn to_maps(cfg: &AwsConfig) -> serde_json::Value {
        let mut profiles = serde_json::Map::new();
        for n in cfg.profile_names() {
            profiles.insert(n.clone(), serde_json::json!(cfg.profile_props(&n).unwrap()));
        }
        let mut sessions = serde_json::Map::new();
        for n in cfg.sso_session_names() {
            sessions.insert(n.clone(), serde_json::json!(cfg.session_props(&n).unwrap()));
        }
        serde_json::json!({"profiles": profiles, "sso_sessions": sessions})
    }

    /// All 65 smithy-rs profile-parser cases. Cases with a credentials file are run too: the
    /// parser knows the credentials-file rules in tests only, since ssso never reads
    /// ~/.aws/credentials; the two files' profiles are merged as the SDKs do (credentials win).
    #[test]
    fn conformance_profile_parser() {
        let Some(dir) = crate::testing::conformance_dir("conformance_profile_parser") else {
            return;
        };
        let data: serde_json::Value = serde_json::from_slice(
            &std::fs::read(dir.join("smithy-rs/profile-parser-tests.json")).unwrap(),
        )
        .unwrap();
        let tests = data["tests"].as_array().unwrap();
        assert_eq!(tests.len(), 65);
        let (mut ok, mut errs) = (0, 0);
        for t in tests {
            let name = t["name"].as_str().unwrap();
            let input = &t["input"];
            let parse = |key: &str, kind| {
                input[key]
                    .as_str()
                    .map(|s| AwsConfig::parse_kind(s, kind))
                    .transpose()
            };
            let result = (|| -> anyhow::Result<serde_json::Value> {
                let cfg = parse("configFile", FileKind::Config)?;
                let creds = parse("credentialsFile", FileKind::Credentials)?;
                let mut out = cfg
                    .as_ref()
                    .map(to_maps)
                    .unwrap_or(serde_json::json!({"profiles": {}, "sso_sessions": {}}));
                if let Some(c) = creds {
                    let cm = to_maps(&c);
                    let profiles = out["profiles"].as_object_mut().unwrap();
                    for (n, props) in cm["profiles"].as_object().unwrap() {
                        let e = profiles.entry(n.clone()).or_insert(serde_json::json!({}));
                        for (k, v) in props.as_object().unwrap() {
                            e[k] = v.clone();
                        }
                    }
                }
                Ok(out)
            })();
            let expected = &t["output"];
            if let Some(want) = expected.get("errorContaining") {
                let e = result.expect_err(name);
                let msg = format!("{e:#}");
                assert!(
                    msg.contains(want.as_str().unwrap()),
                    "{name}: error `{msg}` lacks `{want}`"
                );
                errs += 1;
            } else {
                let got = result.unwrap_or_else(|e| panic!("{name}: {e:#}"));
                let want = &expected["config"];
                assert_eq!(got["profiles"], want["profiles"], "{name}");
                if let Some(ws) = want.get("sso_sessions") {
                    assert_eq!(&got["sso_sessions"], ws, "{name}");
                }
                ok += 1;
            }
        }
        assert_eq!((ok, errs), (55, 10));
    }

    /// smithy-rs file-location cases. The Windows cases (USERPROFILE, HOMEDRIVE/HOMEPATH,
    /// backslashes) are skipped on purpose: ssso runs where OpenSSH's ControlMaster does (not
    /// Windows) and, like the AWS CLI on Unix, uses HOME only. The credentials location is not
    /// checked: ssso never reads that file.
    #[test]
    fn conformance_file_location() {
        let Some(dir) = crate::testing::conformance_dir("conformance_file_location") else {
            return;
        };
        let data: serde_json::Value = serde_json::from_slice(
            &std::fs::read(dir.join("smithy-rs/file-location-tests.json")).unwrap(),
        )
        .unwrap();
        let mut ran = 0;
        for t in data["tests"].as_array().unwrap() {
            let name = t["name"].as_str().unwrap();
            if t["platform"] != "linux" {
                eprintln!(
                    "conformance_file_location: skipping Windows case `{name}` (ssso uses HOME only)"
                );
                continue;
            }
            let env = &t["environment"];
            let var = |k: &str| env.get(k).and_then(|v| v.as_str()).map(OsString::from);
            let got = config_path_from(var("AWS_CONFIG_FILE"), var("HOME")).unwrap();
            assert_eq!(
                got,
                PathBuf::from(t["configLocation"].as_str().unwrap()),
                "{name}"
            );
            ran += 1;
        }
        assert_eq!(ran, 4);
    }

    /// botocore's SSO token-provider resolution cases: which profile / sso-session
    /// combinations resolve. "Non-SSO profiles are skipped" and "The sso_session must be
    /// specified" do not resolve in botocore (no exception, the provider is skipped); in ssso
    /// they are an error, since ssso has nothing else to fall back to.
    #[test]
    fn conformance_botocore_resolution() {
        let Some(dir) = crate::testing::conformance_dir("conformance_botocore_resolution") else {
            return;
        };
        let data: serde_json::Value = serde_json::from_slice(
            &std::fs::read(dir.join("botocore-sso-token-provider-cases.json")).unwrap(),
        )
        .unwrap();
        let cases = data["sso_provider_resolution_cases"].as_array().unwrap();
        assert_eq!(cases.len(), 6);
        for c in cases {
            let doc = c["documentation"].as_str().unwrap();
            let mut text = String::new();
            for (kind, key) in [("profile", "profiles"), ("sso-session", "sso_sessions")] {
                if let Some(m) = c["config"][key].as_object() {
                    for (name, props) in m {
                        let _ = writeln!(text, "[{kind} {name}]");
                        for (k, v) in props.as_object().unwrap() {
                            let _ = writeln!(text, "{k} = {}", v.as_str().unwrap());
                        }
                    }
                }
            }
            let got = p(&text).sso_profile("test");
            assert_eq!(
                got.is_ok(),
                c["resolves"].as_bool().unwrap(),
                "{doc}: {got:?}"
            );
            if let Ok(sso) = got {
                assert_eq!(
                    sso.cache_file_name,
                    crate::aws::token::cache_file_name("admin")
                );
            }
        }
    }
}
