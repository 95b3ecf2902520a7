//! The host's `~/.aws/config` with the profile's sections put in: decided here, in Rust, with
//! the parser that reads the local config ([`crate::aws::config::AwsConfig`], botocore's
//! grammar), so a host file is judged exactly as a local one.
//!
//! The first section of each wanted header (`profile dev`, `sso-session corp`, compared after
//! the parser's normalization) is replaced by the local text, later ones with the same header
//! are removed, a missing one is appended after a blank line; every other byte of the file is
//! kept (comments, blank lines and comments after a section, CRLF line ends, which the new
//! text then gets too, a missing final newline elsewhere). A file the AWS CLI could not read
//! (botocore refuses it, or it is not UTF-8) is left alone with the reason, and so is one over
//! [`MAX`]. Linear in the file's size: the host's file is read for its sections only
//! ([`AwsConfig::spans`]), about 100 ms for 10 MB (200,000 sections) here.

use crate::aws::config::{AwsConfig, Named};

/// The largest host config ssso edits (16 MiB).
pub const MAX: usize = 16 << 20;

/// The reason a file of `len` bytes is left alone.
pub fn too_large(len: usize) -> String {
    format!(
        "~/.aws/config is {:.1} MB, over the {} MB ssso edits; ssso left it alone (add the profile's sections by hand, or use --no-config)",
        len as f64 / f64::from(1 << 20),
        MAX >> 20
    )
}

/// What the config becomes.
#[derive(Debug, PartialEq, Eq)]
pub enum Merge {
    /// The file already has these sections: nothing to write.
    Unchanged,
    /// The new file.
    Changed(Vec<u8>),
}

/// Merges `sections` (header, text ending in `\n`) into the host file `old` (empty: none).
/// The error is the reason the file is left alone, for the user.
pub fn merge(old: &[u8], sections: &[(&str, &str)]) -> Result<Merge, String> {
    if old.len() > MAX {
        return Err(too_large(old.len()));
    }
    let text = std::str::from_utf8(old).map_err(|e| {
        format!(
            "~/.aws/config is not valid UTF-8 (byte {}), so the AWS CLI cannot read it either; ssso left it alone",
            e.valid_up_to()
        )
    })?;
    // The sections only (not their keys): the same decision as the full parse, a fraction
    // of the work on a big file.
    let cfg = AwsConfig::spans(text).map_err(|e| {
        format!("~/.aws/config cannot be parsed by the AWS CLI ({e:#}); ssso left it alone")
    })?;
    let crlf = text
        .find('\n')
        .is_some_and(|i| i > 0 && text.as_bytes()[i - 1] == b'\r');
    let eol = if crlf { "\r\n" } else { "\n" };
    let shaped = |t: &str| -> String {
        if crlf {
            t.replace("\r\n", "\n").replace('\n', "\r\n")
        } else {
            t.to_owned()
        }
    };
    // What each wanted section defines, as botocore names it (the local text read alone):
    // a host section that defines the same profile or session is replaced, in any spelling.
    let local: Vec<Option<AwsConfig>> = sections
        .iter()
        .map(|(_, t)| AwsConfig::parse(t).ok())
        .collect();
    let wanted: Vec<Option<Named>> = local
        .iter()
        .map(|c| {
            c.as_ref()
                .and_then(|c| c.section_spans().find_map(|s| s.named))
        })
        .collect();
    // (span, replacement) in file order.
    let mut edits: Vec<(std::ops::Range<usize>, String)> = Vec::new();
    let mut found = vec![false; sections.len()];
    for s in cfg.iter() {
        let Some(i) = (0..sections.len())
            .find(|&i| (s.named.is_some() && wanted[i] == s.named) || s.has_header(sections[i].0))
        else {
            continue;
        };
        let with = if found[i] {
            String::new()
        } else {
            shaped(sections[i].1)
        };
        found[i] = true;
        edits.push((s.span, with));
    }
    edits.sort_by_key(|(r, _)| r.start);
    let mut out =
        String::with_capacity(text.len() + sections.iter().map(|s| s.1.len()).sum::<usize>() + 8);
    let mut at = 0;
    for (span, with) in &edits {
        out.push_str(&text[at..span.start]);
        out.push_str(with);
        at = span.end;
    }
    out.push_str(&text[at..]);
    for (i, (_, t)) in sections.iter().enumerate() {
        if found[i] {
            continue;
        }
        if !out.is_empty() {
            if !out.ends_with('\n') && !out.ends_with('\r') {
                out.push_str(eol);
            }
            out.push_str(eol);
        }
        out.push_str(&shaped(t));
    }
    if out.as_bytes() == old {
        Ok(Merge::Unchanged)
    } else {
        Ok(Merge::Changed(out.into_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROFILE: &str = "[profile dev]\nsso_session = corp\nregion = eu-west-1\n";
    const SESSION: &str =
        "[sso-session corp]\nsso_start_url = https://x.awsapps.com/start\nsso_region = eu-west-1\n";
    const WANT: &[(&str, &str)] = &[("profile dev", PROFILE), ("sso-session corp", SESSION)];

    fn merged(old: &str) -> String {
        match merge(old.as_bytes(), WANT).unwrap() {
            Merge::Changed(b) => String::from_utf8(b).unwrap(),
            Merge::Unchanged => old.to_owned(),
        }
    }

    #[test]
    fn a_new_file_gets_both_sections() {
        assert_eq!(merged(""), format!("{PROFILE}\n{SESSION}"));
        assert_eq!(
            merge(format!("{PROFILE}\n{SESSION}").as_bytes(), WANT),
            Ok(Merge::Unchanged)
        );
    }

    #[test]
    fn sections_are_replaced_in_place_keeping_every_other_byte() {
        let before = "# top\r\n[default]\r\nregion = us-east-1\r\n\r\n[ profile  dev ]\r\nsso_session = old\r\ns3 =\r\n  max = 1\r\n\r\n# about other\r\n[profile other]\r\nregion=x\r\n[sso-session corp]\r\nsso_start_url = old\r\n[sso-session  corp]\r\ndup = 1\r\n[last]\r\nno = newline";
        let crlf = |s: &str| s.replace('\n', "\r\n");
        let want = format!(
            "# top\r\n[default]\r\nregion = us-east-1\r\n\r\n{}\r\n# about other\r\n[profile other]\r\nregion=x\r\n{}[last]\r\nno = newline",
            crlf(PROFILE),
            crlf(SESSION)
        );
        let after = merged(before);
        assert_eq!(after, want);
        assert_eq!(merge(after.as_bytes(), WANT), Ok(Merge::Unchanged));
    }

    /// Another spelling of the same profile (`[profile "dev"]`), which botocore would read
    /// instead of ours when it comes later, is replaced too.
    #[test]
    fn every_spelling_of_the_profile_is_replaced() {
        let before = "[profile \"dev\"]\nregion = old\n\n[profile other]\nregion = x\n[sso-session 'corp']\nsso_region = old\n";
        let after = merged(before);
        assert_eq!(
            after,
            format!("{PROFILE}\n[profile other]\nregion = x\n{SESSION}")
        );
        let cfg = AwsConfig::parse(&after).unwrap();
        assert_eq!(cfg.sso_profile("dev").unwrap().region, "eu-west-1");
    }

    #[test]
    fn missing_sections_are_appended_after_a_missing_final_newline() {
        assert_eq!(
            merged("[default]\nregion = x"),
            format!("[default]\nregion = x\n\n{PROFILE}\n{SESSION}")
        );
    }

    #[test]
    fn files_the_aws_cli_cannot_read_are_left_alone() {
        for bad in [
            &b"region = x\n[profile dev]\n"[..],
            b"[default]\nregion = x\n[default]\n",
            b"[default]\njust words\n",
            b"[default]\nregion = \xff\n",
        ] {
            let e = merge(bad, WANT).unwrap_err();
            assert!(e.contains("left it alone"), "{e}");
        }
        let huge = vec![b'#'; MAX + 1];
        assert!(merge(&huge, WANT).unwrap_err().contains("16 MB"));
    }

    #[test]
    fn the_remote_corpus_is_edited_or_left_alone() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/remote");
        let mut n = 0;
        for e in std::fs::read_dir(dir).unwrap() {
            let f = e.unwrap().path();
            let before = std::fs::read(&f).unwrap();
            match merge(&before, WANT) {
                Err(why) => assert!(why.contains("left it alone"), "{f:?}"),
                Ok(Merge::Unchanged) => {}
                Ok(Merge::Changed(after)) => {
                    let a = String::from_utf8_lossy(&after);
                    assert_eq!(a.matches("[profile dev]").count(), 1, "{f:?}");
                    assert_eq!(a.matches("[sso-session corp]").count(), 1, "{f:?}");
                    assert_eq!(merge(&after, WANT), Ok(Merge::Unchanged), "{f:?}");
                    let cfg = AwsConfig::parse(&a).unwrap();
                    assert!(cfg.sso_profile("dev").is_ok(), "{f:?}");
                }
            }
            n += 1;
        }
        assert!(n >= 15);
    }

    #[test]
    fn a_large_file_is_edited_at_its_end() {
        let mut big = String::new();
        for i in 0..100_000 {
            big.push_str(&format!("[profile p{i}]\nregion = x\n\n"));
        }
        let Merge::Changed(after) = merge(big.as_bytes(), WANT).unwrap() else {
            panic!()
        };
        assert!(after.starts_with(big.as_bytes()));
    }
}
