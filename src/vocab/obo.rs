//! An OBO 1.2/1.4 flat-file parser, enough for real ontology releases such as
//! `hp.obo`: header tags, `[Term]` and `[Typedef]` stanzas (other stanza types
//! are skipped), `is_obsolete`, `alt_id`, `is_a`, `replaced_by`, synonyms with
//! scope, type and xrefs, quoted strings with escapes, trailing `{modifiers}` and
//! `!` comments. Malformed input is reported with the file and line.
//!
//! ```
//! use lexalign::vocab::obo::{parse_obo, SynonymScope};
//! let text = "data-version: hp/releases/2025-01-16\n\n[Term]\nid: HP:0001250\nname: Seizure\n\
//!             synonym: \"Seizures\" EXACT plural_form []\n";
//! let doc = parse_obo(text.as_bytes(), "hp.obo".as_ref()).unwrap();
//! assert_eq!(doc.header_value("data-version"), Some("hp/releases/2025-01-16"));
//! assert_eq!(doc.terms[0].name.as_deref(), Some("Seizure"));
//! assert_eq!(doc.terms[0].synonyms[0].scope, SynonymScope::Exact);
//! ```

use std::collections::HashMap;
use std::path::Path;

use crate::error::{Error, Result};

/// The scope of a synonym (OBO default: RELATED).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SynonymScope {
    Exact,
    Broad,
    Narrow,
    Related,
}

impl SynonymScope {
    fn parse(word: &str) -> Option<Self> {
        match word {
            "EXACT" => Some(Self::Exact),
            "BROAD" => Some(Self::Broad),
            "NARROW" => Some(Self::Narrow),
            "RELATED" => Some(Self::Related),
            _ => None,
        }
    }
    /// The OBO keyword (`EXACT`, …).
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Exact => "EXACT",
            Self::Broad => "BROAD",
            Self::Narrow => "NARROW",
            Self::Related => "RELATED",
        }
    }
}

/// One `synonym:` line.
#[derive(Debug, Clone, PartialEq)]
pub struct Synonym {
    pub text: String,
    pub scope: SynonymScope,
    /// Synonym type such as `layperson`, if given.
    pub kind: Option<String>,
    pub xrefs: Vec<String>,
}

/// One `[Term]` or `[Typedef]` stanza.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OboStanza {
    pub id: String,
    pub name: Option<String>,
    pub namespace: Option<String>,
    pub def: Option<String>,
    pub alt_ids: Vec<String>,
    pub synonyms: Vec<Synonym>,
    /// Parent ids from `is_a` (comments and modifiers removed).
    pub is_a: Vec<String>,
    pub is_obsolete: bool,
    pub replaced_by: Vec<String>,
    /// Line of the stanza's `[Term]` header (1-based).
    pub line: usize,
}

/// A parsed OBO file.
#[derive(Debug, Clone, Default)]
pub struct OboDocument {
    /// Header tag/value pairs in file order.
    pub header: Vec<(String, String)>,
    pub terms: Vec<OboStanza>,
    pub typedefs: Vec<OboStanza>,
}

impl OboDocument {
    /// The first value of a header tag (e.g. `data-version`).
    pub fn header_value(&self, tag: &str) -> Option<&str> {
        self.header
            .iter()
            .find(|(t, _)| t == tag)
            .map(|(_, v)| v.as_str())
    }
}

/// Reads and parses an OBO file.
/// A file that does not end with a newline is an error (see [`check_ends_whole`]).
pub fn read_obo(path: &Path) -> Result<OboDocument> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    check_ends_whole(&bytes, path)?;
    parse_obo(&bytes, path)
}

/// A file cut short ends inside a line, and the cut line often still parses:
/// `name: Abnormality of the he` is a valid name. Every OBO writer ends each line
/// with a newline, so a last line without one (unless blank) is treated as a cut;
/// one `echo >> file` accepts a complete file that merely lacks it.
pub fn check_ends_whole(bytes: &[u8], path: &Path) -> Result<()> {
    let tail_start = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let tail = &bytes[tail_start..];
    if tail.iter().all(u8::is_ascii_whitespace) {
        return Ok(());
    }
    let line = bytes[..tail_start].iter().filter(|&&b| b == b'\n').count() + 1;
    let shown = String::from_utf8_lossy(&tail[tail.len().saturating_sub(40)..]).into_owned();
    Err(Error::parse(
        path,
        line,
        format!(
            "file ends inside this line (no final newline, last bytes {shown:?}); \
             it looks truncated: reinstall it (`make setup`), or add the newline if the line is complete"
        ),
    ))
}

#[derive(PartialEq)]
enum Section {
    Header,
    Term,
    Typedef,
    Other,
}

/// Parses OBO text; `path` is used only in error messages.
pub fn parse_obo(bytes: &[u8], path: &Path) -> Result<OboDocument> {
    let mut doc = OboDocument::default();
    let mut section = Section::Header;
    let mut current: Option<OboStanza> = None;
    let mut seen: HashMap<String, usize> = HashMap::new();

    for (idx, raw) in bytes.split(|&b| b == b'\n').enumerate() {
        let line_no = idx + 1;
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        let line = std::str::from_utf8(raw).map_err(|e| {
            Error::parse(
                path,
                line_no,
                format!(
                    "invalid UTF-8 at byte {} of the line; OBO files are UTF-8",
                    e.valid_up_to()
                ),
            )
        })?;
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('!') {
            continue;
        }
        if trimmed.starts_with('[') {
            let Some(kind) = trimmed.strip_prefix('[').and_then(|s| s.strip_suffix(']')) else {
                return Err(Error::parse(
                    path,
                    line_no,
                    format!("malformed stanza header {trimmed:?}; expected e.g. [Term]"),
                ));
            };
            finish(current.take(), &section, &mut doc, &mut seen, path)?;
            section = match kind.trim() {
                "Term" => Section::Term,
                "Typedef" => Section::Typedef,
                _ => Section::Other,
            };
            if section != Section::Other {
                current = Some(OboStanza {
                    line: line_no,
                    ..Default::default()
                });
            }
            continue;
        }
        let (tag, value) = split_tag(trimmed).ok_or_else(|| {
            Error::parse(
                path,
                line_no,
                format!("expected `tag: value`, found {:?}", truncate(trimmed)),
            )
        })?;
        match section {
            Section::Header => {
                let value = strip_trailing(value, line_no, path)?;
                doc.header.push((tag.to_string(), value));
            }
            Section::Other => {}
            Section::Term | Section::Typedef => {
                let stanza = current
                    .as_mut()
                    .expect("stanza open in Term/Typedef section");
                apply_tag(stanza, tag, value, line_no, path)?;
            }
        }
    }
    finish(current.take(), &section, &mut doc, &mut seen, path)?;
    Ok(doc)
}

/// Adds a finished stanza to `doc` (Terms and Typedefs only): it must have an id,
/// unique among its kind; `seen` maps ids to the line of their stanza.
fn finish(
    stanza: Option<OboStanza>,
    section: &Section,
    doc: &mut OboDocument,
    seen: &mut HashMap<String, usize>,
    path: &Path,
) -> Result<()> {
    let Some(stanza) = stanza else { return Ok(()) };
    if stanza.id.is_empty() {
        return Err(Error::parse(
            path,
            stanza.line,
            "stanza has no `id:` tag; every [Term]/[Typedef] needs one",
        ));
    }
    let kind = if *section == Section::Typedef {
        "typedef:"
    } else {
        ""
    };
    if let Some(first) = seen.insert(format!("{kind}{}", stanza.id), stanza.line) {
        return Err(Error::parse(
            path,
            stanza.line,
            format!(
                "duplicate id {:?}; first defined in the stanza at line {first}",
                stanza.id
            ),
        ));
    }
    match section {
        Section::Term => doc.terms.push(stanza),
        Section::Typedef => doc.typedefs.push(stanza),
        _ => {}
    }
    Ok(())
}

fn truncate(s: &str) -> String {
    s.chars().take(60).collect()
}

/// Splits `tag: value` at the first unescaped colon.
fn split_tag(line: &str) -> Option<(&str, &str)> {
    let mut escaped = false;
    for (i, c) in line.char_indices() {
        match c {
            '\\' if !escaped => escaped = true,
            ':' if !escaped => {
                let tag = line[..i].trim();
                if tag.is_empty() || tag.contains(char::is_whitespace) {
                    return None;
                }
                return Some((tag, line[i + 1..].trim()));
            }
            _ => escaped = false,
        }
    }
    None
}

/// Removes a trailing `! comment` and `{modifiers}` from an unquoted value and
/// unescapes it.
fn strip_trailing(value: &str, line: usize, path: &Path) -> Result<String> {
    let value = cut_comment(value);
    let value = cut_modifiers(value);
    unescape(value.trim(), line, path)
}

/// Cuts at the first unescaped `!` outside quotes.
fn cut_comment(value: &str) -> &str {
    let mut escaped = false;
    let mut quoted = false;
    for (i, c) in value.char_indices() {
        match c {
            '\\' if !escaped => {
                escaped = true;
                continue;
            }
            '"' if !escaped => quoted = !quoted,
            '!' if !escaped && !quoted => return value[..i].trim_end(),
            _ => {}
        }
        escaped = false;
    }
    value
}

/// Cuts a trailing `{...}` block (outside quotes).
fn cut_modifiers(value: &str) -> &str {
    let v = value.trim_end();
    if !v.ends_with('}') {
        return v;
    }
    let mut escaped = false;
    let mut quoted = false;
    let mut open = None;
    for (i, c) in v.char_indices() {
        match c {
            '\\' if !escaped => {
                escaped = true;
                continue;
            }
            '"' if !escaped => quoted = !quoted,
            '{' if !escaped && !quoted && open.is_none() => open = Some(i),
            _ => {}
        }
        escaped = false;
    }
    match open {
        Some(i) if i > 0 => v[..i].trim_end(),
        _ => v,
    }
}

/// Resolves OBO escapes (`\"`, `\\`, `\n`, `\t`, `\W`, …); a lone trailing
/// backslash is an error.
fn unescape(s: &str, line: usize, path: &Path) -> Result<String> {
    if !s.contains('\\') {
        return Ok(s.to_string());
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('W') => out.push(' '),
            Some(other) => out.push(other),
            None => {
                return Err(Error::parse(
                    path,
                    line,
                    "value ends with a lone backslash (line continuations are not supported)",
                ))
            }
        }
    }
    Ok(out)
}

/// Reads a leading quoted string: returns the unescaped text and the rest.
fn quoted<'a>(value: &'a str, line: usize, path: &Path) -> Result<(String, &'a str)> {
    let Some(body) = value.strip_prefix('"') else {
        return Err(Error::parse(
            path,
            line,
            format!("expected a quoted string, found {:?}", truncate(value)),
        ));
    };
    let mut out = String::new();
    let mut escaped = false;
    for (i, c) in body.char_indices() {
        if escaped {
            out.push(match c {
                'n' => '\n',
                't' => '\t',
                'W' => ' ',
                other => other,
            });
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == '"' {
            return Ok((out, body[i + 1..].trim_start()));
        } else {
            out.push(c);
        }
    }
    Err(Error::parse(
        path,
        line,
        format!(
            "unterminated quoted string (no closing \") in {:?}",
            truncate(value)
        ),
    ))
}

/// Parses a `[xref, xref "desc"]` list at the start of `rest`.
fn xref_list(rest: &str, line: usize, path: &Path) -> Result<Vec<String>> {
    let Some(body) = rest.strip_prefix('[') else {
        return Ok(Vec::new());
    };
    let mut items = Vec::new();
    let mut cur = String::new();
    let mut escaped = false;
    let mut in_quote = false;
    for c in body.chars() {
        if escaped {
            cur.push(c);
            escaped = false;
            continue;
        }
        match c {
            '\\' => escaped = true,
            '"' => {
                in_quote = !in_quote;
                cur.push(c);
            }
            ',' if !in_quote => {
                push_xref(&mut items, &cur);
                cur.clear();
            }
            ']' if !in_quote => {
                push_xref(&mut items, &cur);
                return Ok(items);
            }
            _ => cur.push(c),
        }
    }
    Err(Error::parse(
        path,
        line,
        "unterminated xref list (no closing ])",
    ))
}

fn push_xref(items: &mut Vec<String>, raw: &str) {
    // Keep only the xref id, not its optional quoted description.
    let id = raw.split('"').next().unwrap_or("").trim();
    if !id.is_empty() {
        items.push(id.to_string());
    }
}

fn apply_tag(
    stanza: &mut OboStanza,
    tag: &str,
    value: &str,
    line: usize,
    path: &Path,
) -> Result<()> {
    match tag {
        "id" => {
            let id = strip_trailing(value, line, path)?;
            if id.is_empty() {
                return Err(Error::parse(path, line, "empty `id:` value"));
            }
            if !stanza.id.is_empty() {
                return Err(Error::parse(
                    path,
                    line,
                    format!("second `id:` in one stanza (already {:?})", stanza.id),
                ));
            }
            stanza.id = id;
        }
        "name" => stanza.name = Some(strip_trailing(value, line, path)?),
        "namespace" => stanza.namespace = Some(strip_trailing(value, line, path)?),
        "alt_id" => stanza.alt_ids.push(strip_trailing(value, line, path)?),
        "is_a" => stanza.is_a.push(strip_trailing(value, line, path)?),
        "replaced_by" => stanza.replaced_by.push(strip_trailing(value, line, path)?),
        "is_obsolete" => {
            let v = strip_trailing(value, line, path)?;
            stanza.is_obsolete = match v.as_str() {
                "true" => true,
                "false" => false,
                other => {
                    return Err(Error::parse(
                        path,
                        line,
                        format!("is_obsolete must be true or false, found {other:?}"),
                    ))
                }
            };
        }
        "def" => {
            let (text, _) = quoted(value, line, path)?;
            stanza.def = Some(text);
        }
        "synonym" => stanza
            .synonyms
            .push(parse_synonym(value, None, line, path)?),
        // OBO 1.0/1.2 scoped synonym tags.
        "exact_synonym" => {
            stanza
                .synonyms
                .push(parse_synonym(value, Some(SynonymScope::Exact), line, path)?)
        }
        "narrow_synonym" => stanza.synonyms.push(parse_synonym(
            value,
            Some(SynonymScope::Narrow),
            line,
            path,
        )?),
        "broad_synonym" => {
            stanza
                .synonyms
                .push(parse_synonym(value, Some(SynonymScope::Broad), line, path)?)
        }
        "related_synonym" => stanza.synonyms.push(parse_synonym(
            value,
            Some(SynonymScope::Related),
            line,
            path,
        )?),
        _ => {}
    }
    Ok(())
}

/// `"text" SCOPE [TYPE] [xrefs] {modifiers}`; `fixed` is the scope implied by an
/// old-style tag.
fn parse_synonym(
    value: &str,
    fixed: Option<SynonymScope>,
    line: usize,
    path: &Path,
) -> Result<Synonym> {
    let (text, rest) = quoted(value, line, path)?;
    let rest = cut_modifiers(cut_comment(rest));
    let mut scope = fixed.unwrap_or(SynonymScope::Related);
    let mut kind = None;
    let mut rest = rest.trim_start();
    if fixed.is_none() {
        let word = rest.split_whitespace().next().unwrap_or("");
        if !word.starts_with('[') && !word.is_empty() {
            scope = SynonymScope::parse(word).ok_or_else(|| {
                Error::parse(
                    path,
                    line,
                    format!(
                        "synonym scope must be EXACT, BROAD, NARROW or RELATED, found {word:?}"
                    ),
                )
            })?;
            rest = rest[word.len()..].trim_start();
        }
    }
    let word = rest.split_whitespace().next().unwrap_or("");
    if !word.is_empty() && !word.starts_with('[') {
        kind = Some(word.to_string());
        rest = rest[word.len()..].trim_start();
    }
    let xrefs = xref_list(rest, line, path)?;
    Ok(Synonym {
        text,
        scope,
        kind,
        xrefs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_final_newline_is_a_cut() {
        let path = Path::new("hp.obo");
        assert!(check_ends_whole(b"", path).is_ok());
        assert!(check_ends_whole(b"[Term]\nid: HP:1\n", path).is_ok());
        assert!(check_ends_whole(b"[Term]\nid: HP:1\n  ", path).is_ok());
        let e = check_ends_whole(b"[Term]\nid: HP:1\nname: Abnorm", path).unwrap_err();
        assert!(
            e.to_string().starts_with(
                "hp.obo:3: file ends inside this line (no final newline, last bytes \"name: Abnorm\")"
            ),
            "{e}"
        );
    }
}
