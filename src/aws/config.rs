//! The local AWS config file (`$AWS_CONFIG_FILE` or `~/.aws/config`): where it is, how it is
//! parsed, and how a profile resolves to its IAM Identity Center (SSO) settings.
//!
//! The grammar is botocore's, because the AWS CLI names the token file from what botocore
//! reads: Python's `configparser.RawConfigParser` as `botocore.configloader.raw_config_parse`
//! runs it, then `build_profile_map`, then the SSO token and credential providers
//! (`tests/botocore_diff.rs` checks all of it against the real botocore on thousands of
//! generated files). In short: lines end at `\n`, `\r\n` or a lone `\r`; `key = value` or
//! `key: value` (the first `=` or `:` splits; keys lowercased; no inline comments: `a = b # c`
//! keeps `b # c`); whole-line `#`/`;` comments; a line indented deeper than its option's line
//! continues the value (even a `[header]`-looking one); a section name is everything between
//! the first `[` and the last `]`; a repeated section, a key set twice in one section, text
//! before the first section and a line that is neither header nor option make the whole file
//! unreadable; `[DEFAULT]` gives its keys to every section; a value whose first line is empty
//! is a sub-section of `name = value` lines. Section names that start with `profile` or
//! `sso-session` are split like a shell (`shlex`) and name a profile or session when they make
//! exactly two words (`[profile "my dev"]`); the last section naming a profile wins whole
//! (sections are not merged), and `[default]` and `[profile default]` alike: the later one.
//!
//! On top of botocore's view it keeps the exact bytes of every section ([`Section`]), so that
//! the connect path can copy a profile and its `[sso-session]` to the remote as they stand
//! here, and it refuses three things botocore would use: profiles with long-term credentials
//! or role chaining (ssso only syncs IAM Identity Center tokens), sso settings that only
//! `[DEFAULT]` gives (copying the profile's sections would not carry them), and values ssso
//! cannot use (a sub-section where a name or URL belongs, a name with a NUL byte).
//! `~/.aws/credentials` is never read. The parse copies little (keys, values and names are
//! places in the text unless they need a copy), and [`AwsConfig::spans`] reads a file for its
//! sections only, with the same decisions: the sync's merge of a host file of 200,000
//! sections.

use std::collections::{BTreeMap, HashMap};
use std::ffi::OsString;
use std::ops::Range;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

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

/// Keys that make botocore assume a role instead of using the profile's own SSO settings.
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
/// Semantics since the botocore grammar (they changed from the SDKs' merging rules): a
/// profile or sso-session is ONE section, the last one in the file that names it (botocore
/// does not merge sections; a repeated identical header is an error), so `spans` has one
/// range. `[DEFAULT]` sections are sections of their own (see [`AwsConfig::sections`]); a
/// profile whose sso settings come from `[DEFAULT]` is refused rather than copied without them.
///
/// For whoever writes `text` into another file: configparser continues a value with any line
/// indented deeper than that value's key line, blank lines in between or not, so a section
/// whose header line is indented must not follow a less indented `key = value` line (put it
/// after a header line, or at the start of the file). `text` read alone, or after another
/// section's `text` and a header line, resolves as it does here (tests/botocore_diff.rs
/// checks that with botocore).
///
/// Debug shows the header and sizes only: a section of the file may hold static keys.
#[derive(Clone, PartialEq, Eq)]
pub struct Section {
    /// The section name as configparser reads it (between the first `[` and the last `]` of
    /// the header line, e.g. `profile dev`, `default`, `sso-session corp`, `profile "a b"`),
    /// trimmed, with runs of blanks collapsed to one space. Two spellings of one profile
    /// (`[profile dev]`, `[profile "dev"]`) have different headers.
    pub header: String,
    /// The exact bytes from the start of the header line through the end of the section's last
    /// property or continuation line (including its line ending), NOT including trailing
    /// blank/comment lines that precede the next header. Always ends with "\n" (one is added
    /// if the file had none at EOF).
    pub text: String,
    /// Byte ranges in the parsed text that `text` was taken from (one per header: a single
    /// one). A range ends where `text` ends, minus the `\n` added at EOF.
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
    /// `sso_account_id` / `sso_role_name` as botocore's SSO credential provider reads them;
    /// None for a token-only profile (neither key: for services that take the bearer token
    /// itself, such as CodeCatalyst).
    pub account_id: Option<String>,
    pub role_name: Option<String>,
    /// Token cache file name, `<sha1hex>.json` of the session name or the legacy start URL.
    pub cache_file_name: String,
    pub profile_section: Section,
    pub session_section: Option<Section>,
}

/// The profile or sso-session a section defines, as botocore names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Named<'a> {
    Profile(&'a str),
    SsoSession(&'a str),
}

/// The sections of a file without their options (see [`AwsConfig::spans`]).
pub struct Spans<'t> {
    text: &'t str,
    /// Their `opts` are empty (not kept).
    blocks: Vec<Block>,
}

impl Spans<'_> {
    /// As [`AwsConfig::section_spans`].
    pub fn iter(&self) -> impl Iterator<Item = SectionSpan<'_>> {
        self.blocks.iter().map(|b| b.span_in(self.text))
    }
}

/// One section of a parsed file (see [`AwsConfig::section_spans`]).
#[derive(Debug, Clone)]
pub struct SectionSpan<'a> {
    /// The name as configparser has it (between `[` and the last `]`).
    pub name: &'a str,
    /// Its bytes in the text, as [`Section::spans`].
    pub span: Range<usize>,
    pub named: Option<Named<'a>>,
}

impl SectionSpan<'_> {
    /// Whether its normalized header (see [`Section::header`]) is `header`.
    pub fn has_header(&self, header: &str) -> bool {
        let mut want = header.split(' ');
        let mut words = self.name.split([' ', '\t']).filter(|w| !w.is_empty());
        loop {
            match (want.next(), words.next()) {
                (None, None) => return true,
                (Some(a), Some(b)) if a == b => {}
                _ => return false,
            }
        }
    }
}

/// What a section is, after botocore's `build_profile_map`.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    /// `[profile NAME]` (any name starting with `profile` that shlex splits into two words)
    /// or exactly `[default]`.
    Profile(Txt),
    /// `[sso-session NAME]`, by the same rule.
    SsoSession(Txt),
    /// configparser's `[DEFAULT]`: its keys go to every other section.
    Defaults,
    /// A section of another kind (`[services x]`, `[preview]`...): kept, never used.
    Other,
    /// Starts with `profile` or `sso-session` but botocore ignores it, with the reason.
    Ignored(String),
}

/// One `key = value` of a section: the key lowercased, the value as configparser joins it
/// (continuation lines after `\n`, trailing blank lines dropped).
#[derive(Clone)]
struct Opt {
    key: Txt,
    value: Txt,
    /// 1-based line of the `key = value` line.
    line: usize,
}

/// Where `s`, a slice of `text`, is in it.
fn place(text: &str, s: &str) -> Range<usize> {
    let start = (s.as_ptr() as usize)
        .checked_sub(text.as_ptr() as usize)
        .expect("a slice of the text");
    assert!(start + s.len() <= text.len(), "a slice of the text");
    start..start + s.len()
}

/// A string of the parse: where the file has it as it is (most keys, values and names), its
/// place in the text, else its own copy (a key with capitals, a value of several lines, a
/// quoted name). A file of 200,000 sections is parsed without a copy of each.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Txt {
    At(Range<usize>),
    Own(String),
}

impl Txt {
    /// `s`, a slice of `text`, by its place.
    fn at(text: &str, s: &str) -> Txt {
        Txt::At(place(text, s))
    }

    fn get<'a>(&'a self, text: &'a str) -> &'a str {
        match self {
            Txt::At(r) => &text[r.clone()],
            Txt::Own(s) => s,
        }
    }
}

#[derive(Clone)]
struct Block {
    /// The section name as configparser has it (exact text between `[` and the last `]`): its
    /// place in the text.
    name: Range<usize>,
    kind: Kind,
    line: usize,
    span: Range<usize>,
    /// Its options: a range of `AwsConfig::opts` (a section's are together, in file order);
    /// keys are unique within a section (a repeat is an error).
    opts: Range<usize>,
    /// key -> index into `opts`, for sections of more than [`SMALL`] keys (smaller ones are
    /// searched in place); None for `[DEFAULT]`, whose keys are in `AwsConfig::defaults`.
    #[allow(
        clippy::box_collection,
        reason = "8 bytes in every section instead of 48; almost none has a map"
    )]
    index: Option<Box<HashMap<String, usize>>>,
}

/// Sections with at most this many keys are searched key by key, bigger ones through a map:
/// a look-up costs at most this much either way, and most sections need no map at all.
const SMALL: usize = 8;

impl Block {
    /// It as a [`SectionSpan`] of `text`, the parsed text.
    fn span_in<'a>(&'a self, text: &'a str) -> SectionSpan<'a> {
        SectionSpan {
            name: &text[self.name.clone()],
            span: self.span.clone(),
            named: match &self.kind {
                Kind::Profile(n) => Some(Named::Profile(n.get(text))),
                Kind::SsoSession(n) => Some(Named::SsoSession(n.get(text))),
                _ => None,
            },
        }
    }

    /// Its option `key`; `opts` are all the options of the file.
    fn own<'a>(&self, opts: &'a [Opt], text: &str, key: &str) -> Option<&'a Opt> {
        let opts = &opts[self.opts.clone()];
        match &self.index {
            None => opts.iter().find(|o| o.key.get(text) == key),
            Some(index) => index.get(key).map(|&i| &opts[i]),
        }
    }
}

/// botocore's name -> section table: first-appearance order, the last section wins.
#[derive(Clone, Default)]
struct NameMap {
    order: Vec<(String, usize)>,
    pos: HashMap<String, usize>,
}

impl NameMap {
    fn insert(&mut self, name: &str, block: usize) {
        match self.pos.get(name) {
            Some(&i) => self.order[i].1 = block,
            None => {
                self.pos.insert(name.to_owned(), self.order.len());
                self.order.push((name.to_owned(), block));
            }
        }
    }

    fn get(&self, name: &str) -> Option<usize> {
        self.pos.get(name).map(|&i| self.order[i].1)
    }
}

/// A parsed AWS config file. Debug lists sections and keys, never values.
#[derive(Clone)]
pub struct AwsConfig {
    path: Option<PathBuf>,
    text: String,
    blocks: Vec<Block>,
    /// The options of all sections, section by section.
    opts: Vec<Opt>,
    /// `[DEFAULT]` keys -> index into `opts`.
    defaults: HashMap<String, usize>,
    /// botocore's profiles and sso-sessions, made when first asked for (the sync's merge of
    /// a host file never asks).
    names: std::cell::OnceCell<(NameMap, NameMap)>,
    /// Header-looking lines that continue a value (see `Parser::swallowed`).
    swallowed: Vec<(usize, String)>,
    /// Steps taken by the parse (lines, characters, look-ups): the linearity test's measure.
    work: std::cell::Cell<u64>,
}

impl std::fmt::Debug for AwsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sections: Vec<String> = self
            .blocks
            .iter()
            .map(|b| {
                let keys: Vec<&str> = self
                    .opts_of(b)
                    .iter()
                    .map(|o| o.key.get(&self.text))
                    .collect();
                format!("[{}] {}", normalize_header(self.name(b)), keys.join(" "))
            })
            .collect();
        f.debug_struct("AwsConfig")
            .field("path", &self.path)
            .field("sections", &sections)
            .finish()
    }
}

/// A value as botocore hands it out: a string, or a sub-section (first line empty) parsed
/// into `name = value` pairs, which compare as dicts do.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Value<'a> {
    Str(&'a str),
    Nested(BTreeMap<&'a str, &'a str>),
}

impl<'a> Value<'a> {
    fn of(raw: &'a str) -> Value<'a> {
        if raw.starts_with('\n') {
            // Already checked at parse time; a line without `=` cannot be here.
            Value::Nested(
                nested_pairs(raw)
                    .filter_map(Result::ok)
                    .collect::<BTreeMap<_, _>>(),
            )
        } else {
            Value::Str(raw)
        }
    }

    fn as_str(&self) -> Option<&'a str> {
        match self {
            Value::Str(s) => Some(s),
            Value::Nested(_) => None,
        }
    }
}

/// A profile's or session's dict as botocore builds it: the section's own keys, then
/// `[DEFAULT]`'s.
struct Dict<'a> {
    cfg: &'a AwsConfig,
    block: usize,
}

impl<'a> Dict<'a> {
    /// The raw value and whether it came from `[DEFAULT]`.
    fn raw(&self, key: &str) -> Option<(&'a str, bool)> {
        self.cfg.work.set(self.cfg.work.get() + 1);
        let text = &self.cfg.text;
        if let Some(o) = self.cfg.blocks[self.block].own(&self.cfg.opts, text, key) {
            return Some((o.value.get(text), false));
        }
        let &i = self.cfg.defaults.get(key)?;
        Some((self.cfg.opts[i].value.get(text), true))
    }

    fn get(&self, key: &str) -> Option<Value<'a>> {
        self.raw(key).map(|(v, _)| Value::of(v))
    }

    fn has(&self, key: &str) -> bool {
        self.raw(key).is_some()
    }

    fn is_empty(&self) -> bool {
        self.cfg.blocks[self.block].opts.is_empty() && self.cfg.defaults.is_empty()
    }
}

/// Shows a name in a message: as is, unless it has control characters (escaped then).
fn shown(name: &str) -> String {
    if name.chars().any(char::is_control) {
        name.escape_debug().to_string()
    } else {
        name.to_owned()
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
                "AWS config file {} is not valid UTF-8 (byte {}), so the AWS CLI cannot read it either; fix the file or run `aws configure sso`",
                path.display(),
                e.utf8_error().valid_up_to()
            )
        })?;
        let mut cfg = Self::parse_owned(text).with_context(|| {
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

    /// Parse config-file text (no path in messages). Errors name the line and say what to do;
    /// they are botocore's refusals (the AWS CLI cannot read such a file either).
    pub fn parse(text: &str) -> anyhow::Result<AwsConfig> {
        Self::parse_owned(text.to_owned())
    }

    fn parse_owned(text: String) -> anyhow::Result<AwsConfig> {
        let (blocks, opts, defaults, swallowed, work) = {
            let mut p = Parser::default();
            p.run(&text)?;
            (p.blocks, p.opts, p.defaults, p.swallowed, p.work)
        };
        let cfg = AwsConfig {
            path: None,
            text,
            blocks,
            opts,
            defaults,
            names: std::cell::OnceCell::new(),
            swallowed,
            work: std::cell::Cell::new(work),
        };
        cfg.check_nested()?;
        Ok(cfg)
    }

    /// botocore's profiles and sso-sessions (see [`NameMap`]).
    fn names(&self) -> &(NameMap, NameMap) {
        self.names.get_or_init(|| {
            let (mut profiles, mut sessions) = (NameMap::default(), NameMap::default());
            for (i, b) in self.blocks.iter().enumerate() {
                match &b.kind {
                    Kind::Profile(n) => profiles.insert(n.get(&self.text), i),
                    Kind::SsoSession(n) => sessions.insert(n.get(&self.text), i),
                    _ => {}
                }
            }
            (profiles, sessions)
        })
    }

    fn profiles(&self) -> &NameMap {
        &self.names().0
    }

    fn sessions(&self) -> &NameMap {
        &self.names().1
    }

    /// A section's name as configparser has it.
    fn name(&self, b: &Block) -> &str {
        &self.text[b.name.clone()]
    }

    /// A section's options.
    fn opts_of(&self, b: &Block) -> &[Opt] {
        &self.opts[b.opts.clone()]
    }

    /// raw_config_parse turns every value whose first line is empty into a dict of
    /// `name = value` lines, for every section and every key it sees there, `[DEFAULT]`'s
    /// included; one line without `=` makes the whole file unreadable.
    fn check_nested(&self) -> anyhow::Result<()> {
        let mut work = self.work.get();
        let text = &self.text;
        let bad = |o: &Opt| nested_error(text, o);
        let sections: Vec<&Block> = self
            .blocks
            .iter()
            .filter(|b| b.kind != Kind::Defaults)
            .collect();
        // A `[DEFAULT]` key is checked when some section does not set it itself.
        let mut overridden: HashMap<&str, usize> = HashMap::new();
        for b in &sections {
            for o in self.opts_of(b) {
                work += o.value.get(text).len() as u64 + 1;
                bad(o)?;
                if !self.defaults.is_empty() {
                    let key = o.key.get(text);
                    if self.defaults.contains_key(key) {
                        *overridden.entry(key).or_default() += 1;
                    }
                }
            }
        }
        for b in &self.blocks {
            if b.kind != Kind::Defaults {
                continue;
            }
            for o in self.opts_of(b) {
                work += o.value.get(text).len() as u64 + 1;
                if overridden.get(o.key.get(text)).copied().unwrap_or(0) < sections.len() {
                    bad(o)?;
                }
            }
        }
        self.work.set(work);
        Ok(())
    }

    /// Every section of the file in file order, each with its own header: profiles,
    /// sso-sessions, `[DEFAULT]`, other kinds (`[services x]`) and the ones botocore ignores
    /// (`[profile a b]`, `[ profile a]`).
    #[allow(
        dead_code,
        reason = "for the sync path (lead), to edit the remote config"
    )]
    pub fn sections(&self) -> Vec<Section> {
        self.blocks.iter().map(|b| self.section_of(b)).collect()
    }

    fn dict(&self, block: usize) -> Dict<'_> {
        Dict { cfg: self, block }
    }

    /// Names of the profiles that use IAM Identity Center (botocore's dict for them has
    /// `sso_session` or `sso_start_url`, `[DEFAULT]`'s included), in botocore's order.
    /// One pass over the file (a config with thousands of profiles stays fast).
    pub fn sso_profile_names(&self) -> Vec<String> {
        self.profiles()
            .order
            .iter()
            .filter(|(_, b)| {
                let d = self.dict(*b);
                d.has("sso_session") || d.has("sso_start_url")
            })
            .map(|(n, _)| n.clone())
            .collect()
    }

    /// Names of all profiles, in botocore's order (where each name first appears).
    pub fn profile_names(&self) -> Vec<String> {
        self.profiles()
            .order
            .iter()
            .map(|(n, _)| n.clone())
            .collect()
    }

    /// Names of all `[sso-session NAME]` sections, in botocore's order.
    pub fn sso_session_names(&self) -> Vec<String> {
        self.sessions()
            .order
            .iter()
            .map(|(n, _)| n.clone())
            .collect()
    }

    /// A profile's properties as botocore holds them (`[DEFAULT]`'s included; sub-sections
    /// as their raw text), or None when there is no such profile.
    #[cfg(test)]
    pub fn profile_props(&self, name: &str) -> Option<BTreeMap<String, String>> {
        self.profiles().get(name).map(|b| self.props_of(b))
    }

    /// An sso-session's properties, as [`AwsConfig::profile_props`].
    #[allow(dead_code, reason = "API for callers; used by the tests")]
    pub fn session_props(&self, name: &str) -> Option<BTreeMap<String, String>> {
        self.sessions().get(name).map(|b| self.props_of(b))
    }

    fn props_of(&self, block: usize) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        let text = &self.text;
        for o in self.opts_of(&self.blocks[block]) {
            out.insert(o.key.get(text).to_owned(), o.value.get(text).to_owned());
        }
        for &i in self.defaults.values() {
            let o = &self.opts[i];
            out.entry(o.key.get(text).to_owned())
                .or_insert_with(|| o.value.get(text).to_owned());
        }
        out
    }

    /// Every section in file order with what botocore makes of it: its span in the text, and
    /// `Some(Named::Profile(N))` for a section that defines profile N (`[profile N]` in any
    /// spelling that names N, or `[default]`), `Some(Named::SsoSession(N))` likewise, `None`
    /// for the rest. For the sync, which replaces a profile's sections in a host's file
    /// whatever their spelling there. No copies: cheap on a file of 200,000 sections.
    pub fn section_spans(&self) -> impl Iterator<Item = SectionSpan<'_>> {
        self.blocks.iter().map(|b| b.span_in(&self.text))
    }

    /// The sections of `text` as [`AwsConfig::section_spans`] gives them, and the same
    /// decision as [`AwsConfig::parse`] (the same error when botocore cannot read the file),
    /// without keeping the options: for the sync's merge of a host's file, which needs only
    /// the sections, and about a fifth of the memory of a full parse on a file of 200,000.
    pub fn spans(text: &str) -> anyhow::Result<Spans<'_>> {
        let mut p = Parser {
            lean: true,
            ..Parser::default()
        };
        p.run(text)?;
        if let Some(e) = p.nested.take() {
            return Err(e);
        }
        if p.unsure {
            // A `[DEFAULT]` sub-section: whether botocore reads it depends on every section's
            // keys, which were not kept. The full parse decides.
            let cfg = AwsConfig::parse(text)?;
            return Ok(Spans {
                text,
                blocks: cfg.blocks,
            });
        }
        Ok(Spans {
            text,
            blocks: p.blocks,
        })
    }

    fn section_of(&self, b: &Block) -> Section {
        let mut text = self.text[b.span.clone()].to_owned();
        if !text.ends_with('\n') {
            text.push('\n');
        }
        Section {
            header: normalize_header(self.name(b)),
            text,
            spans: vec![b.span.clone()],
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
        let names: Vec<String> = self.sso_profile_names().iter().map(|n| shown(n)).collect();
        if names.is_empty() {
            format!(
                "there are no SSO profiles in {}; run `aws configure sso` to create one",
                self.where_()
            )
        } else {
            format!("SSO profiles in {}: {}", self.where_(), names.join(", "))
        }
    }

    /// Resolve a profile to its SSO settings as botocore does: `sso_session` -> the
    /// `[sso-session S]` it names (its sso_start_url and sso_region; botocore's
    /// SSOTokenProvider), and with sso_account_id or sso_role_name also botocore's SSO
    /// credential provider's checks (all four keys present, and every key the sso-session
    /// sets equal in the profile if the profile sets it too); without sso_session, a legacy
    /// profile (sso_start_url + sso_region in the profile).
    ///
    /// Errors: unknown profile (lists the SSO profiles found), every refusal of botocore's,
    /// and ssso's own: profiles that are not plain SSO profiles (static keys,
    /// credential_process, role chaining via role_arn/source_profile...), sso settings that
    /// only `[DEFAULT]` gives, a sub-section where the session name, start URL or region
    /// belongs, and a name with a NUL byte (it could not travel to the remote).
    pub fn sso_profile(&self, name: &str) -> anyhow::Result<SsoProfile> {
        let shown_name = shown(name);
        let Some(pb) = self.profiles().get(name) else {
            bail!(
                "AWS profile `{shown_name}` is not in {}{}. {}",
                self.where_(),
                swallowed_hint(self.swallowed.iter().filter(|(_, t)| t.contains(name))),
                self.sso_profiles_hint()
            );
        };
        if name.contains('\0') {
            bail!(
                "AWS profile `{shown_name}` has a NUL byte in its name, which no command line can carry to the remote; rename the profile"
            );
        }
        let prof = self.dict(pb);
        let pblock = &self.blocks[pb];
        let section_name = format!("[{}] (line {})", shown(self.name(pblock)), pblock.line);

        let creds: Vec<&str> = CREDENTIAL_KEYS
            .iter()
            .copied()
            .filter(|k| prof.has(k))
            .collect();
        if !creds.is_empty() {
            bail!(
                "AWS profile `{shown_name}` has {} in {section_name} of {}{}: {REFUSAL}. Use a profile that only has IAM Identity Center settings. {}",
                creds.join(", "),
                self.where_(),
                from_defaults(&prof, &creds),
                self.sso_profiles_hint()
            );
        }
        let roles: Vec<&str> = ROLE_KEYS.iter().copied().filter(|k| prof.has(k)).collect();
        if !roles.is_empty() {
            bail!(
                "AWS profile `{shown_name}` assumes a role ({} in {section_name} of {}{}); ssso only syncs profiles that take their credentials straight from IAM Identity Center ({REFUSAL}). Use the SSO profile itself. {}",
                roles.join(", "),
                self.where_(),
                from_defaults(&prof, &roles),
                self.sso_profiles_hint()
            );
        }

        let not_text = |key: &str, whose: &str| {
            anyhow::anyhow!(
                "{whose} has `{key} =` followed by indented `name = value` lines, which botocore reads as a sub-section, not as a {key}; write the value on the `{key} =` line in {}",
                self.where_()
            )
        };
        let whose = format!("AWS profile `{shown_name}`");

        // botocore's SSOTokenProvider: a profile with sso_session uses that session.
        let mut session: Option<(&str, usize)> = None;
        if let Some(v) = prof.get("sso_session") {
            let s = v.as_str().ok_or_else(|| not_text("sso_session", &whose))?;
            let sb = self.sessions().get(s).filter(|&b| !self.dict(b).is_empty());
            let Some(sb) = sb else {
                let hint = swallowed_hint(self.swallowed.iter().filter(|(_, t)| t.contains(s)));
                let known: Vec<String> =
                    self.sso_session_names().iter().map(|n| shown(n)).collect();
                bail!(
                    "AWS profile `{shown_name}` uses sso_session `{}`, but {} has no [sso-session {}] section{}{}{hint}; run `aws configure sso-session` to create it",
                    shown(s),
                    self.where_(),
                    shown(s),
                    if self.sessions().get(s).is_some() {
                        " with settings (it is empty)"
                    } else {
                        ""
                    },
                    if known.is_empty() {
                        String::new()
                    } else {
                        format!(" (sessions there: {})", known.join(", "))
                    }
                );
            };
            let sd = self.dict(sb);
            for key in ["sso_start_url", "sso_region"] {
                if !sd.has(key) {
                    bail!(
                        "[sso-session {}] (line {}) in {} has no {key}; add it (run `aws configure sso-session`)",
                        shown(s),
                        self.blocks[sb].line,
                        self.where_()
                    );
                }
            }
            session = Some((s, sb));
        }

        // botocore's SSOProvider (role credentials): runs when either account key is there.
        let wants_creds = prof.has("sso_role_name") || prof.has("sso_account_id");
        let mut account_id = None;
        let mut role_name = None;
        if wants_creds {
            // botocore merges the session's dict into the profile's after checking that every
            // key of the session's that the profile also has is equal there.
            let sd = session.map(|(_, sb)| self.dict(sb));
            let merged = |key: &str| prof.get(key).or_else(|| sd.as_ref()?.get(key));
            if let (Some((s, sb)), Some(sd)) = (session, &sd) {
                let differs = |key: &str, theirs: Value| -> anyhow::Result<()> {
                    self.work.set(self.work.get() + 1);
                    if let Some(ours) = prof.get(key)
                        && ours != theirs
                    {
                        bail!(
                            "AWS profile `{shown_name}` sets {key} differently from its [sso-session {}] ({section_name} and line {} of {}); botocore (the AWS CLI) refuses this: remove {key} from the profile or make the two equal",
                            shown(s),
                            self.blocks[sb].line,
                            self.where_()
                        );
                    }
                    Ok(())
                };
                let text = &self.text;
                for o in self.opts_of(&self.blocks[sb]) {
                    differs(o.key.get(text), Value::of(o.value.get(text)))?;
                }
                // `[DEFAULT]` keys the session inherits: only a profile's own can differ.
                for o in self.opts_of(&self.blocks[pb]) {
                    let key = o.key.get(text);
                    if sd.raw(key).is_some_and(|(_, inherited)| inherited) {
                        differs(key, sd.get(key).expect("just seen"))?;
                    }
                }
            }
            let missing: Vec<&str> = [
                "sso_role_name",
                "sso_account_id",
                "sso_start_url",
                "sso_region",
            ]
            .into_iter()
            .filter(|k| merged(k).is_none())
            .collect();
            if !missing.is_empty() {
                bail!(
                    "AWS profile `{shown_name}` has {} but no {} in {section_name} of {}{}; botocore (the AWS CLI) refuses it: add {}, or remove sso_account_id and sso_role_name for a token-only profile",
                    if prof.has("sso_account_id") {
                        "sso_account_id"
                    } else {
                        "sso_role_name"
                    },
                    missing.join(", "),
                    self.where_(),
                    if session.is_some() {
                        " or its sso-session"
                    } else {
                        ""
                    },
                    missing.join(", ")
                );
            }
            account_id = merged("sso_account_id").and_then(|v| v.as_str());
            role_name = merged("sso_role_name").and_then(|v| v.as_str());
        }

        let (start_url, region, scopes, session_section) = if let Some((_, sb)) = session {
            let sd = self.dict(sb);
            let whose_s = format!("[sso-session {}]", shown(self.name(&self.blocks[sb])));
            let text = |key: &str| -> anyhow::Result<String> {
                let v = sd.get(key).expect("checked above");
                Ok(v.as_str()
                    .ok_or_else(|| not_text(key, &whose_s))?
                    .to_owned())
            };
            (
                text("sso_start_url")?,
                text("sso_region")?,
                sd.get("sso_registration_scopes")
                    .and_then(|v| v.as_str().map(str::to_owned)),
                Some(self.section_of(&self.blocks[sb])),
            )
        } else if prof.has("sso_start_url") {
            // A legacy profile. Without the account keys botocore's providers skip it (it has
            // no token provider of its own), but `aws sso login` logs it in by its start URL,
            // and that token is what ssso syncs.
            let text = |key: &str| -> anyhow::Result<String> {
                let Some(v) = prof.get(key) else {
                    bail!(
                        "AWS profile `{shown_name}` has sso_start_url but no {key} in {section_name} of {}; add {key} (or run `aws configure sso`)",
                        self.where_()
                    );
                };
                Ok(v.as_str().ok_or_else(|| not_text(key, &whose))?.to_owned())
            };
            (text("sso_start_url")?, text("sso_region")?, None, None)
        } else {
            bail!(
                "AWS profile `{shown_name}` is not an IAM Identity Center (SSO) profile: it has neither sso_session nor sso_start_url in {}. {REFUSAL}. {}",
                self.where_(),
                self.sso_profiles_hint()
            );
        };

        // ssso copies the profile's and the session's own sections; `[DEFAULT]` applies to
        // every section of a file, so it is not copied, and settings read from it would be
        // lost on the way. The settings read: the session name (or the legacy start URL and
        // region) and the account keys from the profile, the rest from the session.
        let from_profile: &[&str] = if session.is_some() {
            &["sso_session", "sso_account_id", "sso_role_name"]
        } else {
            &[
                "sso_start_url",
                "sso_region",
                "sso_account_id",
                "sso_role_name",
            ]
        };
        let mut inherited: Vec<String> = from_profile
            .iter()
            .filter(|k| matches!(prof.raw(k), Some((_, true))))
            .map(|k| format!("{k} (to {section_name})"))
            .collect();
        if let Some((s, sb)) = session {
            let sd = self.dict(sb);
            inherited.extend(
                ["sso_start_url", "sso_region", "sso_registration_scopes"]
                    .iter()
                    .filter(|k| matches!(sd.raw(k), Some((_, true))))
                    .map(|k| format!("{k} (to [sso-session {}])", shown(s))),
            );
        }
        if !inherited.is_empty() {
            bail!(
                "the [DEFAULT] section of {} gives {}; botocore reads it, but ssso copies only the profile's and the sso-session's own sections to the remote, where [DEFAULT] would be missing: move those settings into the sections themselves",
                self.where_(),
                inherited.join(", ")
            );
        }

        let session = session.map(|(s, _)| s.to_owned());
        let key = session.as_deref().unwrap_or(&start_url);
        Ok(SsoProfile {
            profile: name.to_owned(),
            cache_file_name: crate::aws::token::cache_file_name(key),
            session,
            start_url,
            region,
            scopes,
            account_id: account_id.map(str::to_owned),
            role_name: role_name.map(str::to_owned),
            profile_section: self.section_of(pblock),
            session_section,
        })
    }
}

/// raw_config_parse's refusal of a sub-section value (first line empty) with a line without
/// `=`, for option `o` of `text`.
fn nested_error(text: &str, o: &Opt) -> anyhow::Result<()> {
    // A value of one line is its place in the text: never a sub-section.
    let Txt::Own(value) = &o.value else {
        return Ok(());
    };
    if !value.starts_with('\n') {
        return Ok(());
    }
    if let Some(Err(line)) = nested_pairs(value).find(Result::is_err) {
        let key = o.key.get(text);
        bail!(
            "line {}: `{} =` has nothing after the `=`, so botocore (the AWS CLI) reads the indented lines under it as `name = value` pairs, and `{}` has no `=`; the AWS CLI cannot read this file: add the `=`, or put a value after `{} =`",
            o.line,
            shown(key),
            shown(line),
            shown(key)
        );
    }
    Ok(())
}

/// " (from [DEFAULT])" when any of `keys` comes from `[DEFAULT]`, for messages.
fn from_defaults(d: &Dict, keys: &[&str]) -> &'static str {
    if keys.iter().any(|k| matches!(d.raw(k), Some((_, true)))) {
        " (some from its [DEFAULT] section)"
    } else {
        ""
    }
}

// ------------------------------------------------------------------ Python's string rules

/// `str.isspace()`: Unicode White_Space plus the four ASCII separators 0x1C-0x1F.
fn py_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

fn py_strip(s: &str) -> &str {
    s.trim_matches(py_space)
}

/// `str.splitlines()` boundaries (CR LF counts as one).
fn py_line_break(c: char) -> bool {
    matches!(
        c,
        '\n' | '\r'
            | '\u{b}'
            | '\u{c}'
            | '\u{1c}'
            | '\u{1d}'
            | '\u{1e}'
            | '\u{85}'
            | '\u{2028}'
            | '\u{2029}'
    )
}

/// botocore's `_parse_nested`: each non-blank line (by `splitlines`) split at its first `=`,
/// both sides stripped; Err(line) for a line without `=`.
fn nested_pairs(raw: &str) -> impl Iterator<Item = Result<(&str, &str), &str>> {
    raw.split(py_line_break)
        .map(py_strip)
        .filter(|l| !l.is_empty())
        .map(|l| match l.split_once('=') {
            Some((k, v)) => Ok((py_strip(k), py_strip(v))),
            None => Err(l),
        })
}

/// Python's `shlex.split(s)` (POSIX mode, no comments): Err for an unclosed quote or a
/// trailing backslash. Only space, tab, CR and LF separate words.
fn shlex_split(s: &str) -> Result<Vec<String>, &'static str> {
    #[derive(Clone, Copy, PartialEq)]
    enum St {
        Space,
        Word,
        Quote(char),
        Escape,
    }
    let mut out = Vec::new();
    let mut tok = String::new();
    let mut quoted = false;
    let mut st = St::Space;
    let mut back = St::Word;
    for c in s.chars() {
        let blank = matches!(c, ' ' | '\t' | '\r' | '\n');
        match st {
            St::Space | St::Word if blank => {
                if st == St::Word && (!tok.is_empty() || quoted) {
                    out.push(std::mem::take(&mut tok));
                    quoted = false;
                }
                st = St::Space;
            }
            St::Space | St::Word => match c {
                '\\' => {
                    back = St::Word;
                    st = St::Escape;
                }
                '"' | '\'' => st = St::Quote(c),
                _ => {
                    tok.push(c);
                    st = St::Word;
                }
            },
            St::Quote(q) => {
                quoted = true;
                if c == q {
                    st = St::Word;
                } else if c == '\\' && q == '"' {
                    back = st;
                    st = St::Escape;
                } else {
                    tok.push(c);
                }
            }
            St::Escape => {
                if let St::Quote(q) = back
                    && c != '\\'
                    && c != q
                {
                    tok.push('\\');
                }
                tok.push(c);
                st = back;
            }
        }
    }
    match st {
        St::Quote(_) => Err("it has an unclosed quote"),
        St::Escape => Err("it ends with a backslash"),
        St::Space | St::Word => {
            if !tok.is_empty() || quoted {
                out.push(tok);
            }
            Ok(out)
        }
    }
}

/// Collapse runs of blanks to one space and trim: [`Section::header`].
fn normalize_header(name: &str) -> String {
    let mut out = String::new();
    for word in name.split([' ', '\t']).filter(|w| !w.is_empty()) {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// botocore's `build_profile_map` for one section name (`DEFAULT` is configparser's, before),
/// `name` being a slice of `text`.
fn classify(text: &str, name: &str) -> Kind {
    let split = |prefix: &str, what: &str, kind: fn(Txt) -> Kind| -> Kind {
        if !name.contains(['"', '\'', '\\']) {
            // No quote, no backslash: shlex's words are the runs of other characters, slices
            // of the name.
            let mut words = name
                .split([' ', '\t', '\r', '\n'])
                .filter(|w| !w.is_empty());
            if let (Some(_), Some(second), None) = (words.next(), words.next(), words.next()) {
                return kind(Txt::at(text, second));
            }
        }
        match shlex_split(name) {
            Ok(mut words) if words.len() == 2 => kind(Txt::Own(words.pop().expect("two words"))),
            Ok(words) => Kind::Ignored(format!(
                "section [{name}] ignored: botocore uses a section starting with `{prefix}` as a {what} only when it splits into exactly two words, and it has {}",
                words.len()
            )),
            Err(why) => Kind::Ignored(format!(
                "section [{name}] ignored: botocore splits it like a shell command line, and {why}"
            )),
        }
    };
    if name.starts_with("profile") {
        split("profile", "profile", Kind::Profile)
    } else if name.starts_with("sso-session") {
        split("sso-session", "sso-session", Kind::SsoSession)
    } else if name == "default" {
        Kind::Profile(Txt::at(text, name))
    } else {
        Kind::Other
    }
}

// ------------------------------------------------------------------ configparser

/// Python's `RawConfigParser._read` (strict, `=` and `:`, full-line `#`/`;` comments, no inline
/// comments, empty lines kept in values), recording byte spans as it goes.
#[derive(Default)]
struct Parser<'t> {
    /// The text being parsed.
    text: &'t str,
    blocks: Vec<Block>,
    opts: Vec<Opt>,
    /// Section name -> block (not `DEFAULT`): a repeat is an error.
    names: HashMap<&'t str, usize>,
    defaults: HashMap<String, usize>,
    /// Keys of the current section -> index into its opts, for the duplicate check once it
    /// has more than [`SMALL`] keys (`DEFAULT`: `defaults`); moved into the block at its end.
    keys: HashMap<String, usize>,
    /// The current section's block, None before the first header.
    cur: Option<usize>,
    /// The option that indented lines continue (index into `opts`).
    opt: Option<usize>,
    /// Empty lines since that option's last line: part of its value if another line of it
    /// follows (configparser drops them at the end of a value).
    blanks: usize,
    indent: usize,
    /// configparser reports bad lines at the end, after the errors it raises at once.
    deferred: Option<anyhow::Error>,
    /// Lines that look like a `[section]` header but continue a value (indented deeper than
    /// the key above them): (line, text), for hints in messages.
    swallowed: Vec<(usize, String)>,
    work: u64,
    /// Keep no options of a section (not `[DEFAULT]`) past its end ([`AwsConfig::spans`]):
    /// its sub-sections are checked there, the first refusal kept in `nested`, and `unsure`
    /// set when a `[DEFAULT]` option is a sub-section (the full parse decides then).
    lean: bool,
    nested: Option<anyhow::Error>,
    unsure: bool,
}

impl<'t> Parser<'t> {
    fn run(&mut self, text: &'t str) -> anyhow::Result<()> {
        self.text = text;
        for (i, (line, start, end)) in lines_with_spans(text).enumerate() {
            self.work += (end - start) as u64 + 1;
            self.line(i + 1, line, start, end)?;
        }
        self.finish_block();
        match self.deferred.take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    fn line(&mut self, no: usize, line: &'t str, start: usize, end: usize) -> anyhow::Result<()> {
        let text = self.text;
        let value = py_strip(line);
        if value.starts_with(['#', ';']) {
            return Ok(());
        }
        if value.is_empty() {
            // An empty line belongs to the value above (dropped at the end if nothing follows).
            if self.opt.is_some() {
                self.blanks += 1;
            }
            return Ok(());
        }
        let indent = line.chars().take_while(|&c| py_space(c)).count();
        if let Some(i) = self.opt
            && indent > self.indent
        {
            if value.starts_with('[') && value.contains(']') {
                self.swallowed.push((no, value.to_owned()));
            }
            let o = &mut self.opts[i];
            let mut v = match std::mem::replace(&mut o.value, Txt::Own(String::new())) {
                Txt::At(r) => text[r].to_owned(),
                Txt::Own(v) => v,
            };
            for _ in 0..=self.blanks {
                v.push('\n');
            }
            self.blanks = 0;
            v.push_str(value);
            o.value = Txt::Own(v);
            let b = self.cur.expect("an option is in a section");
            self.blocks[b].span.end = end;
            return Ok(());
        }
        self.indent = indent;
        if let Some(close) = value.rfind(']')
            && value.starts_with('[')
            && close >= 2
        {
            return self.header(no, &value[1..close], start, end);
        }
        let Some(b) = self.cur else {
            if no == 1 && line.starts_with('\u{feff}') {
                bail!(
                    "line 1: the file starts with a byte-order mark (U+FEFF), which botocore (the AWS CLI) does not skip, so it cannot read the file; save it as UTF-8 without a BOM"
                );
            }
            bail!(
                "line {no}: `{}` comes before the first [section] header, so botocore (the AWS CLI) cannot read the file; put it under a [profile NAME] header or remove it",
                shown(value)
            );
        };
        let Some(d) = value.find(['=', ':']) else {
            self.defer(anyhow::anyhow!(
                "line {no}: `{}` is neither a [section] header nor `key = value` (or `key: value`), so botocore (the AWS CLI) cannot read the file; fix or remove the line, or indent it deeper than the key above to continue that value",
                shown(value)
            ));
            return Ok(());
        };
        let key = value[..d].trim_end_matches(py_space);
        let key = if key.bytes().any(|c| c.is_ascii_uppercase() || !c.is_ascii()) {
            Txt::Own(key.to_lowercase())
        } else {
            Txt::at(text, key)
        };
        let key_s = key.get(text);
        if d == 0 {
            self.defer(anyhow::anyhow!(
                "line {no}: `{}` has no key before the `{}`, so botocore (the AWS CLI) cannot read the file; add the key or remove the line",
                shown(value),
                &value[..1]
            ));
        }
        let is_default = self.blocks[b].kind == Kind::Defaults;
        let mine = &self.opts[self.blocks[b].opts.clone()];
        let earlier = if is_default {
            self.defaults.get(key_s).map(|&i| self.opts[i].line)
        } else if self.keys.is_empty() {
            self.work += mine.len() as u64;
            mine.iter()
                .find(|o| o.key.get(text) == key_s)
                .map(|o| o.line)
        } else {
            self.keys.get(key_s).map(|&i| mine[i].line)
        };
        if let Some(first) = earlier {
            bail!(
                "line {no}: `{}` is set twice in [{}] (first on line {first}; keys ignore case), so botocore (the AWS CLI) cannot read the file; remove one of them{}",
                shown(key_s),
                shown(&text[self.blocks[b].name.clone()]),
                swallowed_hint(self.swallowed.iter().filter(|(l, _)| *l > first))
            );
        }
        let idx = mine.len();
        let at = self.opts.len();
        if is_default {
            self.defaults.insert(key_s.to_owned(), at);
        } else if !self.keys.is_empty() {
            self.keys.insert(key_s.to_owned(), idx);
        } else if idx >= SMALL {
            for (i, o) in mine.iter().enumerate() {
                self.keys.insert(o.key.get(text).to_owned(), i);
            }
            self.keys.insert(key_s.to_owned(), idx);
        }
        self.opt = (!key_s.is_empty()).then_some(at);
        self.blanks = 0;
        self.opts.push(Opt {
            key,
            value: Txt::at(text, py_strip(&value[d + 1..])),
            line: no,
        });
        self.blocks[b].opts.end = self.opts.len();
        self.blocks[b].span.end = end;
        Ok(())
    }

    fn header(&mut self, no: usize, name: &'t str, start: usize, end: usize) -> anyhow::Result<()> {
        let kind = if name == "DEFAULT" {
            Kind::Defaults
        } else {
            match self.names.entry(name) {
                std::collections::hash_map::Entry::Occupied(first) => bail!(
                    "line {no}: section [{}] appears twice (first on line {}), so botocore (the AWS CLI) cannot read the file; merge the two sections into one",
                    shown(name),
                    self.blocks[*first.get()].line
                ),
                std::collections::hash_map::Entry::Vacant(v) => {
                    v.insert(self.blocks.len());
                }
            }
            classify(self.text, name)
        };
        self.work += name.len() as u64;
        self.finish_block();
        self.cur = Some(self.blocks.len());
        self.opt = None;
        self.blocks.push(Block {
            name: place(self.text, name),
            kind,
            line: no,
            span: start..end,
            opts: self.opts.len()..self.opts.len(),
            index: None,
        });
        Ok(())
    }

    /// The end of the current section: its options are complete.
    fn finish_block(&mut self) {
        let keys = std::mem::take(&mut self.keys);
        let Some(b) = self.cur else {
            return;
        };
        let range = self.blocks[b].opts.clone();
        for o in &mut self.opts[range.clone()] {
            if let Txt::Own(v) = &mut o.value {
                let keep = v.trim_end_matches(py_space).len();
                v.truncate(keep);
            }
        }
        if !self.lean {
            self.blocks[b].index = (!keys.is_empty()).then(|| Box::new(keys));
            return;
        }
        let opts = &self.opts[range.clone()];
        if self.blocks[b].kind == Kind::Defaults {
            // Kept: a later `[DEFAULT]` adds to them (and a repeated key is refused).
            self.unsure |= opts
                .iter()
                .any(|o| matches!(&o.value, Txt::Own(v) if v.starts_with('\n')));
            return;
        }
        if self.nested.is_none() {
            self.nested = opts.iter().find_map(|o| nested_error(self.text, o).err());
        }
        // This section's options are the last ones: no longer needed.
        self.opts.truncate(range.start);
        self.blocks[b].opts = range.start..range.start;
    }

    fn defer(&mut self, e: anyhow::Error) {
        if self.deferred.is_none() {
            self.deferred = Some(e);
        }
    }
}

/// "; line N (`[x]`) is indented deeper than the key above it, so botocore reads it as more
/// of that key's value, not as a section header: unindent it", for the first of `lines`, or "".
fn swallowed_hint<'a>(mut lines: impl Iterator<Item = &'a (usize, String)>) -> String {
    match lines.next() {
        Some((l, text)) => format!(
            "; line {l} (`{}`) is indented deeper than the key above it, so botocore reads it as more of that key's value, not as a section header: unindent it",
            shown(text)
        ),
        None => String::new(),
    }
}

/// Split `text` into lines as Python's universal newlines do (`\n`, `\r\n` or a lone `\r`
/// ends a line), with byte ranges: (content without the line ending, start of line, end of
/// line including its ending).
fn lines_with_spans(text: &str) -> impl Iterator<Item = (&str, usize, usize)> {
    let bytes = text.as_bytes();
    let mut pos = 0;
    std::iter::from_fn(move || {
        if pos >= bytes.len() {
            return None;
        }
        let start = pos;
        let rest = &bytes[start..];
        let (content_end, next) = match rest.iter().position(|&b| b == b'\n' || b == b'\r') {
            Some(i) if rest[i] == b'\r' && rest.get(i + 1) == Some(&b'\n') => {
                (start + i, start + i + 2)
            }
            Some(i) => (start + i, start + i + 1),
            None => (bytes.len(), bytes.len()),
        };
        pos = next;
        Some((&text[start..content_end], start, next))
    })
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
        assert_eq!(cfg.profile_names(), ["a", "b"]);
    }

    #[test]
    fn section_text_includes_continuations() {
        let cfg = p("[profile a]\ns3 =\n  max_concurrent_requests = 20\n\n  # c\n\n[profile b]\n");
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
    fn header_normalized_and_named_like_botocore() {
        let cfg = p("[profile \t  a  ]\nx = 1\n[sso-session\tss]\n[  profile b]\n[profile c d]\n");
        let secs = cfg.sections();
        assert_eq!(secs[0].header, "profile a");
        assert_eq!(secs[1].header, "sso-session ss");
        assert_eq!(secs[2].header, "profile b");
        // `[  profile b]` does not start with `profile`; `[profile c d]` is three words.
        assert_eq!(cfg.profile_names(), ["a"]);
        assert_eq!(cfg.sso_session_names(), ["ss"]);
    }

    // ---------------------------------------------------------------- botocore's grammar

    #[test]
    fn colon_tabs_and_case() {
        let cfg = p(
            "[profile a]\n\tSSO_Session\t=\tcorp\t\nsso_account_id: 1\nsso_role_name :R\n  ;x\n[sso-session corp]\nsso_start_url:https://x/start\nsso_region=eu-west-1\n",
        );
        let sso = cfg.sso_profile("a").unwrap();
        assert_eq!(sso.session.as_deref(), Some("corp"));
        assert_eq!(sso.start_url, "https://x/start");
        assert_eq!(sso.account_id.as_deref(), Some("1"));
        assert_eq!(sso.role_name.as_deref(), Some("R"));
        // A key indented deeper than the one above continues its value.
        let cfg = p("[profile a]\nsso_account_id: 1\n  sso_role_name = R\n");
        assert_eq!(
            cfg.profile_props("a").unwrap()["sso_account_id"],
            "1\nsso_role_name = R"
        );
        // The first `=` or `:` splits: a URL key keeps the rest.
        let cfg = p("[profile a]\nk = https://x:443/a=b\nhttps://y = 1\n");
        let props = cfg.profile_props("a").unwrap();
        assert_eq!(props["k"], "https://x:443/a=b");
        assert_eq!(props["https"], "//y = 1");
    }

    #[test]
    fn no_inline_comments() {
        let cfg = p(
            "[profile a] # here\nsso_start_url = https://x/start # old\nsso_region = us-east-1;x\n",
        );
        let sso = cfg.sso_profile("a").unwrap();
        assert_eq!(sso.start_url, "https://x/start # old");
        assert_eq!(sso.region, "us-east-1;x");
        assert_eq!(
            sso.cache_file_name,
            crate::aws::token::cache_file_name("https://x/start # old")
        );
    }

    #[test]
    fn continuation_is_by_indentation() {
        // Deeper than the key's own line continues, even a header-looking line; a comment
        // line is skipped even inside a value; the same depth starts a new key.
        let cfg = p(
            "[profile a]\n  region = x\n    [profile b]\n  # c\n      y\n  sso_session = s\n[sso-session s]\nsso_start_url = u\nsso_region = r\n",
        );
        assert_eq!(cfg.profile_names(), ["a"]);
        assert_eq!(
            cfg.profile_props("a").unwrap()["region"],
            "x\n[profile b]\ny"
        );
        assert_eq!(cfg.sso_profile("a").unwrap().session.as_deref(), Some("s"));
        let e = format!("{:#}", cfg.sso_profile("b").unwrap_err());
        assert!(
            e.contains("is not in the AWS config; line 3 (`[profile b]`) is indented deeper"),
            "{e}"
        );
        let e = format!(
            "{:#}",
            AwsConfig::parse("[profile a]\nk = 1\n  [profile b]\nk = 2\n").unwrap_err()
        );
        assert!(
            e.contains("set twice in [profile a] (first on line 2; keys ignore case)"),
            "{e}"
        );
        assert!(
            e.contains("line 3 (`[profile b]`) is indented deeper"),
            "{e}"
        );
        // Indentation counts characters, not bytes (U+3000 is one).
        let cfg = p("[profile a]\n\u{3000}k = v\n  w\n");
        assert_eq!(cfg.profile_props("a").unwrap()["k"], "v\nw");
    }

    #[test]
    fn lone_cr_ends_a_line() {
        let cfg = p("[profile a]\rsso_start_url = u\rsso_region = r\r");
        let sso = cfg.sso_profile("a").unwrap();
        assert_eq!((sso.start_url.as_str(), sso.region.as_str()), ("u", "r"));
        assert_eq!(
            sso.profile_section.text,
            "[profile a]\rsso_start_url = u\rsso_region = r\r\n"
        );
    }

    #[test]
    fn last_section_wins_whole() {
        let text = "[profile a]\nsso_session = s\n[profile b]\nregion = x\n[profile \"a\"]\nsso_start_url = u\nsso_region = r\n[sso-session s]\nsso_start_url = v\nsso_region = r\n";
        let cfg = p(text);
        assert_eq!(cfg.profile_names(), ["a", "b"]);
        let sso = cfg.sso_profile("a").unwrap();
        assert_eq!(sso.session, None);
        assert_eq!(sso.start_url, "u");
        assert_eq!(
            sso.profile_section.text,
            "[profile \"a\"]\nsso_start_url = u\nsso_region = r\n"
        );
        assert_eq!(sso.profile_section.header, "profile \"a\"");
        assert_eq!(sso.profile_section.spans.len(), 1);
    }

    #[test]
    fn default_later_wins() {
        let text = "[default]\nsso_start_url = old\nsso_region = r\n[profile default]\nsso_start_url = new\nsso_region = r\n";
        let sso = p(text).sso_profile("default").unwrap();
        assert_eq!(sso.start_url, "new");
        assert_eq!(sso.profile_section.header, "profile default");
        let text = "[profile default]\nsso_start_url = old\nsso_region = r\n[default]\nsso_start_url = new\nsso_region = r\n";
        let sso = p(text).sso_profile("default").unwrap();
        assert_eq!(sso.start_url, "new");
        assert_eq!(sso.profile_section.header, "default");
    }

    #[test]
    fn shell_quoted_names() {
        let cfg = p(
            "[profile \"my dev\"]\nsso_session = my corp\n[sso-session 'my corp']\nsso_start_url = u\nsso_region = r\n[profile a\\ b]\n[profile \"x]\n[profiles c]\n[profile]\n",
        );
        assert_eq!(cfg.profile_names(), ["my dev", "a b", "c"]);
        assert_eq!(cfg.sso_session_names(), ["my corp"]);
        let sso = cfg.sso_profile("my dev").unwrap();
        assert_eq!(
            sso.cache_file_name,
            crate::aws::token::cache_file_name("my corp")
        );
        assert_eq!(
            shlex_split(r#"p "a\"b\c" 'd\'"#),
            Ok(vec!["p".into(), "a\"b\\c".into(), "d\\".into()])
        );
        assert_eq!(shlex_split("p \"\""), Ok(vec!["p".into(), String::new()]));
        assert!(shlex_split("p a\\").is_err());
    }

    #[test]
    fn empty_values_are_values() {
        // botocore only asks whether a key is there.
        let cfg =
            p("[profile a]\nsso_session =\n[sso-session \"\"]\nsso_start_url =\nsso_region =\n");
        let sso = cfg.sso_profile("a").unwrap();
        assert_eq!(sso.session.as_deref(), Some(""));
        assert_eq!(sso.start_url, "");
        assert_eq!(sso.cache_file_name, crate::aws::token::cache_file_name(""));
        // An sso-session with no keys at all does not exist for botocore.
        let e = format!(
            "{:#}",
            p("[profile a]\nsso_session = s\n[sso-session s]\n")
                .sso_profile("a")
                .unwrap_err()
        );
        assert!(e.contains("it is empty"), "{e}");
    }

    #[test]
    fn refusals_name_the_line() {
        let e = |text: &str| format!("{:#}", AwsConfig::parse(text).unwrap_err());
        let m = e("[profile a]\nx = 1\n[profile a]\n");
        assert!(
            m.contains("line 3: section [profile a] appears twice (first on line 1)"),
            "{m}"
        );
        let m = e("[profile a]\nX = 1\n\nx: 2\n");
        assert!(
            m.contains("line 4: `x` is set twice in [profile a] (first on line 2"),
            "{m}"
        );
        let m = e("x = 1\n[profile a]\n");
        assert!(
            m.contains("line 1: `x = 1` comes before the first [section]"),
            "{m}"
        );
        let m = e("\u{feff}[profile a]\n");
        assert!(
            m.contains("line 1: the file starts with a byte-order mark"),
            "{m}"
        );
        let m = e("[profile a]\nx = 1\nno separator\n[profile b\n");
        assert!(m.contains("line 3: `no separator` is neither"), "{m}");
        let m = e("[profile a]\n= 1\n");
        assert!(m.contains("line 2: `= 1` has no key"), "{m}");
        let m = e("[profile a]\ns3 =\n  ok = 1\n  bad\n");
        assert!(
            m.contains("line 2: `s3 =` has nothing after the `=`"),
            "{m}"
        );
        assert!(m.contains("`bad` has no `=`"), "{m}");
        // A repeated `[DEFAULT]` is allowed, a key repeated across them is not.
        assert!(AwsConfig::parse("[DEFAULT]\na = 1\n[DEFAULT]\nb = 1\n").is_ok());
        let m = e("[DEFAULT]\na = 1\n[DEFAULT]\nA = 1\n");
        assert!(m.contains("line 4: `a` is set twice in [DEFAULT]"), "{m}");
    }

    #[test]
    fn default_section_is_inherited_and_refused_for_sso_keys() {
        let text = "[DEFAULT]\nsso_region = eu-west-1\nregion = x\n[profile a]\nsso_session = s\n[sso-session s]\nsso_start_url = u\n[profile b]\nsso_session = t\n[sso-session t]\nsso_start_url = u\nsso_region = us-east-1\n[profile c]\naws_access_key_id = A\n";
        let cfg = p(text);
        assert_eq!(cfg.profile_props("a").unwrap()["region"], "x");
        let e = format!("{:#}", cfg.sso_profile("a").unwrap_err());
        assert!(e.contains("[DEFAULT] section"), "{e}");
        assert!(e.contains("sso_region (to [sso-session s])"), "{e}");
        // Keys the sections set themselves are theirs; other [DEFAULT] keys do not matter.
        let sso = cfg.sso_profile("b").unwrap();
        assert_eq!(sso.region, "us-east-1");
        // Long-term keys from [DEFAULT] are refused like the profile's own.
        let cfg = p(
            "[DEFAULT]\ncredential_process = x\n[profile c]\nsso_start_url = u\nsso_region = r\n",
        );
        let e = format!("{:#}", cfg.sso_profile("c").unwrap_err());
        assert!(
            e.contains("credential_process") && e.contains("[DEFAULT]"),
            "{e}"
        );
    }

    #[test]
    fn sub_sections_are_not_names() {
        let cfg = p(
            "[profile a]\nsso_session =\n  x = y\n[profile b]\nsso_start_url = u\nsso_region =\n  x = y\n",
        );
        let e = format!("{:#}", cfg.sso_profile("a").unwrap_err());
        assert!(e.contains("sub-section, not as a sso_session"), "{e}");
        let e = format!("{:#}", cfg.sso_profile("b").unwrap_err());
        assert!(e.contains("not as a sso_region"), "{e}");
    }

    #[test]
    fn profile_names_with_nul_are_refused() {
        let cfg = p(
            "[profile a\u{0}b]\nsso_start_url = u\nsso_region = r\n[profile c\u{1}d]\nsso_start_url = u\nsso_region = r\n",
        );
        assert_eq!(cfg.profile_names(), ["a\u{0}b", "c\u{1}d"]);
        let e = format!("{:#}", cfg.sso_profile("a\u{0}b").unwrap_err());
        assert!(e.contains("`a\\0b` has a NUL byte"), "{e}");
        // Any other byte travels (the remote encoding carries all but NUL).
        assert_eq!(cfg.sso_profile("c\u{1}d").unwrap().start_url, "u");
    }

    /// [`AwsConfig::spans`] (the sync's merge) decides as the full parse and finds the same
    /// sections: refusals in every order, sub-sections in sections and in `[DEFAULT]` (read or
    /// not depending on the other sections), and the corpus files.
    #[test]
    fn spans_decide_as_the_full_parse() {
        let mut texts: Vec<String> = [
            "",
            "# c\n\n",
            "[profile a]\nx = 1\n[profile a]\n",
            "[profile a]\nX = 1\n\nx: 2\n",
            "x = 1\n[profile a]\n",
            "\u{feff}[profile a]\n",
            "[profile a]\nx = 1\nno separator\n[profile b\n",
            "[profile a]\n= 1\n",
            "[profile a]\ns3 =\n  ok = 1\n  bad\n",
            "[profile a]\ns3 =\n  ok = 1\n\n  b = 2\n\n[profile b]\ns3 =\n  bad\n",
            "[profile a]\ns3 =\n  bad\nno separator\n",
            "[profile a]\ns3 =\n  bad\n[profile a]\n",
            "[profile a]\ns3 =\n  bad\n[DEFAULT]\nt =\n  bad2\n",
            "[DEFAULT]\ns3 =\n  bad\n[profile a]\ns3 = 1\n",
            "[DEFAULT]\ns3 =\n  bad\n[profile a]\nx = 1\n",
            "[profile a]\ns3 = 1\n[DEFAULT]\ns3 =\n  bad\n[profile b]\nS3 = 2\n",
            "[profile a]\nx = 1\n[DEFAULT]\ns3 =\n  bad\n",
            "[DEFAULT]\na = 1\n[DEFAULT]\nb = 1\n[profile x]\na = 2\n",
            "[DEFAULT]\na = 1\n[profile x]\nb = 2\n[DEFAULT]\nA = 1\n",
            "[default]\nregion = x\n[profile \"my dev\"]\nv = 1\n  more\n\n[ profile  b ]\n[sso-session 'c d']\n[profile a b c]\n[profile 'x]\n",
            "[profile a]\nK1=1\nk2=2\nk3=3\nk4=4\nk5=5\nk6=6\nk7=7\nk8=8\nk9=9\nk10=10\nK3=again\n",
            "[profile a]\r\nv =\r\n  x = 1\r\n\r\n[profile b]\rw = 2\r",
        ]
        .map(str::to_owned)
        .into();
        let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
        for dir in ["config", "remote"] {
            for e in std::fs::read_dir(corpus.join(dir)).unwrap() {
                let bytes = std::fs::read(e.unwrap().path()).unwrap();
                if let Ok(t) = String::from_utf8(bytes) {
                    texts.push(t);
                }
            }
        }
        assert!(texts.len() > 40);
        for text in &texts {
            match (AwsConfig::parse(text), AwsConfig::spans(text)) {
                (Ok(cfg), Ok(spans)) => assert_eq!(
                    format!("{:?}", cfg.section_spans().collect::<Vec<_>>()),
                    format!("{:?}", spans.iter().collect::<Vec<_>>()),
                    "{text:?}"
                ),
                (Err(a), Err(b)) => assert_eq!(format!("{a:#}"), format!("{b:#}"), "{text:?}"),
                (a, b) => panic!("{text:?}: {:?} vs {:?}", a.err(), b.err()),
            }
        }
    }

    #[test]
    fn parse_work_is_linear() {
        // The parser counts its steps (lines and their bytes, look-ups, the sub-section
        // check); a quadratic pass would make the 10x file cost 100x, not about 10x. The
        // shapes are the expensive ones: many sections, a big [DEFAULT] every section
        // inherits, long continuation values, one huge section, names repeated in many
        // spellings, and every profile resolved.
        fn config(n: usize) -> String {
            let mut s = String::from("[DEFAULT]\n");
            for i in 0..n {
                let _ = writeln!(s, "d{i} =\n  k = v");
            }
            for i in 0..n {
                let _ = write!(
                    s,
                    "[profile p{i}]\nsso_session = s{}\nsso_account_id = 1\nsso_role_name = R\n[profile \"p{i}\"]\nsso_session = s{}\nsso_account_id = 1\nsso_role_name = R\nlong = a\n  b\n\n  c\n[sso-session s{i}]\nsso_start_url = u\nsso_region = r\n",
                    i % 7,
                    i % 5
                );
            }
            s.push_str("[profile big]\n");
            for i in 0..n {
                let _ = writeln!(s, "k{i} = v");
            }
            s
        }
        fn work(n: usize) -> u64 {
            let cfg = AwsConfig::parse(&config(n)).unwrap();
            assert_eq!(cfg.sso_profile_names().len(), n);
            for name in cfg.profile_names() {
                let _ = cfg.sso_profile(&name);
            }
            let _ = cfg.sections();
            cfg.work.get()
        }
        let (small, big) = (work(200), work(2000));
        assert!(small > 200 * 20, "the counter counts: {small}");
        assert!(
            big < small * 13,
            "10x the file took {}x the work ({small} -> {big})",
            big / small
        );
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
sso_account_id = 1
sso_role_name = R

[profile tokenonly-mismatch]
sso_session = corp
sso_start_url = https://other/start

[profile norole]
sso_session = corp
sso_account_id = 1

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

    #[test]
    fn token_only_profile_ignores_its_own_start_url() {
        // botocore's token provider reads only the sso-session; the consistency check is the
        // credential provider's, which runs only with sso_account_id or sso_role_name.
        let sso = p(CFG).sso_profile("tokenonly-mismatch").unwrap();
        assert_eq!(sso.start_url, "https://corp.awsapps.com/start");
        assert_eq!(sso.account_id, None);
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
            e.contains("sets sso_start_url differently from its [sso-session corp]"),
            "{e}"
        );

        let e = err("norole");
        assert!(e.contains("no sso_role_name"), "{e}");
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
                "mismatch",
                "tokenonly-mismatch",
                "norole"
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
        assert!(e.contains("line 3: `[profile b` is neither"), "{e}");

        let latin1 = dir.join("latin1");
        std::fs::write(&latin1, b"[profile a]\nx = caf\xe9\n").unwrap();
        let e = format!("{:#}", AwsConfig::load(&latin1).unwrap_err());
        assert!(e.contains("not valid UTF-8 (byte 19)"), "{e}");

        let good = dir.join("good");
        std::fs::write(&good, CFG).unwrap();
        let cfg = AwsConfig::load(&good).unwrap();
        let e = format!("{:#}", cfg.sso_profile("nope").unwrap_err());
        assert!(e.contains(&good.display().to_string()), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    // ---------------------------------------------------------------- conformance

    /// A profile map as the smithy cases write it; sub-sections as `{"\n": {pairs}}` so that
    /// they compare as the dicts botocore makes of them.
    fn canonical(props: &BTreeMap<String, String>) -> serde_json::Value {
        let mut m = serde_json::Map::new();
        for (k, v) in props {
            let v = match Value::of(v) {
                Value::Str(s) => serde_json::json!(s),
                Value::Nested(pairs) => serde_json::json!({ "\n": pairs }),
            };
            m.insert(k.clone(), v);
        }
        serde_json::Value::Object(m)
    }

    fn canonical_json(v: &serde_json::Value) -> serde_json::Value {
        let mut out = serde_json::Map::new();
        for (name, props) in v.as_object().unwrap() {
            // Strings as the smithy cases write them; a deviation may already give the
            // canonical `{"\n": {pairs}}` of a sub-section.
            let mut m = serde_json::Map::new();
            for (k, v) in props.as_object().unwrap() {
                let c = match v.as_str() {
                    Some(s) => canonical(&BTreeMap::from([(k.clone(), s.to_owned())]))[k].clone(),
                    None => v.clone(),
                };
                m.insert(k.clone(), c);
            }
            out.insert(name.clone(), serde_json::Value::Object(m));
        }
        serde_json::Value::Object(out)
    }

    /// botocore's `Session.full_config` profiles for a config and an optional credentials
    /// file: the credentials file's sections are profiles by their exact names, and their
    /// keys update the config's (ssso never reads that file; the cases use it).
    fn full_config(
        config: Option<&str>,
        credentials: Option<&str>,
    ) -> anyhow::Result<(serde_json::Value, serde_json::Value)> {
        let mut profiles = serde_json::Map::new();
        let mut sessions = serde_json::Map::new();
        if let Some(text) = config {
            let cfg = AwsConfig::parse(text)?;
            for n in cfg.profile_names() {
                profiles.insert(n.clone(), canonical(&cfg.profile_props(&n).unwrap()));
            }
            for n in cfg.sso_session_names() {
                sessions.insert(n.clone(), canonical(&cfg.session_props(&n).unwrap()));
            }
        }
        if let Some(text) = credentials {
            let cfg = AwsConfig::parse(text)?;
            for (i, b) in cfg.blocks.iter().enumerate() {
                if b.kind == Kind::Defaults {
                    continue;
                }
                let props = canonical(&cfg.props_of(i));
                let e = profiles
                    .entry(cfg.name(b).to_owned())
                    .or_insert(serde_json::json!({}));
                for (k, v) in props.as_object().unwrap() {
                    e[k] = v.clone();
                }
            }
        }
        Ok((profiles.into(), sessions.into()))
    }

    /// The 65 smithy-rs profile-parser cases, read with botocore's grammar. Where botocore
    /// reads a case differently, botocore wins (the AWS CLI names the token file): those cases
    /// are listed here with the reason and botocore's result, as the real botocore gave it
    /// (tests/support/botocore_oracle.py; the credentials-file cases with
    /// `Session.full_config`). Sub-properties compare as the dicts botocore makes of them.
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
        let dup = "appears twice";
        // (case name, why botocore differs, botocore's profiles or the error it gives)
        let deviations: &[(&str, &str, serde_json::Value)] = &[
            (
                "Profile names support alphanumeric characters and - / . % @ _ : +",
                "botocore takes any name shlex gives, `!` too",
                serde_json::json!({"some-thing:long/the_one%only.foo@bar+": {}, "foo!bar": {}}),
            ),
            (
                "Property definitions must contain an equals sign.",
                "configparser also splits at `:`",
                serde_json::json!({"foo": {"key": "value"}}),
            ),
            (
                "Pound sign comments are ignored.",
                "configparser has no inline comments",
                serde_json::json!({"foo": {"name": "value # Comment with # sign"}}),
            ),
            (
                "Semicolon sign comments are ignored.",
                "configparser has no inline comments",
                serde_json::json!({"foo": {"name": "value ; Comment with ; sign"}}),
            ),
            (
                "All comment types can be used together.",
                "configparser has no inline comments",
                serde_json::json!({"foo": {"name": "value # Comment with ; sign"}}),
            ),
            (
                "Comments can be empty.",
                "configparser has no inline comments",
                serde_json::json!({"foo": {"name": "value ;"}}),
            ),
            (
                "Duplicate profiles in the same file merge properties.",
                "configparser (strict) refuses a repeated section",
                serde_json::json!(dup),
            ),
            (
                "Duplicate properties in a profile use the last one defined.",
                "configparser (strict) refuses a repeated key",
                serde_json::json!("is set twice"),
            ),
            (
                "Duplicate properties in duplicate profiles use the last one defined.",
                "configparser (strict) refuses a repeated section",
                serde_json::json!(dup),
            ),
            (
                "Duplicate properties in duplicate profiles use the last one defined (case insensitive).",
                "configparser (strict) refuses a repeated section",
                serde_json::json!(dup),
            ),
            (
                "Default profile with profile prefix overrides default profile without prefix when profile prefix is first.",
                "build_profile_map: the later of [default] and [profile default] wins",
                serde_json::json!({"default": {"name2": "value2"}}),
            ),
            (
                "Invalid profile names are ignored.",
                "a credentials-file section is a profile by its exact name",
                serde_json::json!({"in valid 2": {"name2": "value2"}}),
            ),
            (
                "Invalid property names are ignored.",
                "configparser takes any key",
                serde_json::json!({"foo": {"in valid": "value"}}),
            ),
            (
                "Sub-property definitions cannot have an empty name.",
                "botocore's _parse_nested takes an empty name",
                serde_json::json!({"foo": {"s3": {"\n": {"": "value"}}}}),
            ),
            (
                "Default profiles with mixed prefixes in the config file ignore the one without prefix when merging.",
                "configparser (strict) refuses a repeated section",
                serde_json::json!(dup),
            ),
            (
                "Default profiles with mixed prefixes merge with credentials",
                "configparser (strict) refuses a repeated section",
                serde_json::json!(dup),
            ),
            (
                "Credentials profiles with prefix are ignored.",
                "a credentials-file section is a profile by its exact name",
                serde_json::json!({"profile foo": {"name": "value"}}),
            ),
            (
                "profile name with extra whitespace",
                "`[   profile foo    ]` does not start with `profile`",
                serde_json::json!({"bar": {}}),
            ),
            (
                "profile name with extra whitespace in credentials",
                "a credentials-file section is a profile by its exact name",
                serde_json::json!({"   foo    ": {"name": "value"}, "profile bar": {}}),
            ),
        ];
        let (mut same, mut differ) = (0, 0);
        for t in tests {
            let name = t["name"].as_str().unwrap();
            let input = &t["input"];
            let got = full_config(
                input["configFile"].as_str(),
                input["credentialsFile"].as_str(),
            );
            let want = match deviations.iter().find(|d| d.0 == name) {
                Some((_, why, botocore)) => {
                    eprintln!("conformance_profile_parser: `{name}`: botocore differs: {why}");
                    differ += 1;
                    match botocore.as_str() {
                        Some(e) => serde_json::json!({ "errorContaining": e }),
                        None => serde_json::json!({"config": {"profiles": botocore}}),
                    }
                }
                None => {
                    same += 1;
                    t["output"].clone()
                }
            };
            if let Some(e) = want.get("errorContaining") {
                let msg = format!("{:#}", got.expect_err(name));
                // The SDKs' wording is not botocore's: an error is what must agree, and
                // ssso's own wording where the case is a deviation.
                if differ > 0 && deviations.iter().any(|d| d.0 == name) {
                    assert!(
                        msg.contains(e.as_str().unwrap()),
                        "{name}: `{msg}` lacks {e}"
                    );
                }
            } else {
                let (profiles, sessions) = got.unwrap_or_else(|e| panic!("{name}: {e:#}"));
                let w = &want["config"];
                assert_eq!(profiles, canonical_json(&w["profiles"]), "{name}");
                if let Some(ws) = w.get("sso_sessions") {
                    assert_eq!(sessions, canonical_json(ws), "{name}");
                }
            }
        }
        assert_eq!((same, differ), (46, 19));
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
